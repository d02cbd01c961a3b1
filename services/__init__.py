"""orderchat's services: one package each, each runnable alone (`orderchat serve NAME`) or
together in one process (`orderchat up`)."""
