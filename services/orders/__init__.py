"""The orders service: every order is a state machine whose transitions are events in stream
ORDERS (hash-chained, signed where a party commits), projected into KV OC_ORDERS and shown in
the buyer–supplier conversation as an order card."""
