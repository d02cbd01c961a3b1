"""orderchat's demo ERP: a small server speaking Odoo 17's external API for purchases.

`orderchat up` runs it so the story works without an Odoo; the ERP connector's tests run
against it through the real `odoorpc` client. See README.md in this folder.
"""

from .seed import (
    SEED_CATEGORIES,
    SEED_COMPANY_NAME,
    SEED_CURRENCY,
    SEED_DB_NAME,
    SEED_PRODUCTS,
    SEED_SUPPLIERS,
    SEED_TAX_NAME,
    SEED_USERS,
    SeedProduct,
    SeedSupplier,
    SeedUser,
)
from .server import DemoErp, ErpThread, run_in_thread

__all__ = [
    "DemoErp",
    "ErpThread",
    "run_in_thread",
    "SEED_CATEGORIES",
    "SEED_COMPANY_NAME",
    "SEED_CURRENCY",
    "SEED_DB_NAME",
    "SEED_PRODUCTS",
    "SEED_SUPPLIERS",
    "SEED_TAX_NAME",
    "SEED_USERS",
    "SeedProduct",
    "SeedSupplier",
    "SeedUser",
]
