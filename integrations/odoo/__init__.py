"""The Odoo ERP connector (service `erp`): purchase orders of mapped suppliers become orderchat
orders (polling by write_date, webhook as a hint), and the supplier's answers are written back
to the purchase orders (confirm, line changes, chatter), idempotently and through ERP outages.
Two transports behind one interface: odoorpc (JSON-RPC) and Odoo 19's JSON-2 API."""
