"""Demo data for the buyer shop "Inkwell Stationery" and its three suppliers.

The constants are the contract other orderchat code may rely on (logins, API keys, SKUs,
external ids); `seed_database` writes them into an empty database once.
"""

from __future__ import annotations

from dataclasses import dataclass

from .access import GROUP_PURCHASE_MANAGER, GROUP_PURCHASE_USER, GROUP_SYSTEM, GROUP_USER, GROUPS, hash_secret
from .orm import SUPERUSER_ID, Env, Registry
from .store import Store, Transaction

SEED_DB_NAME = "demo"
SEED_COMPANY_NAME = "Inkwell Stationery"
SEED_CURRENCY = "CNY"
SEED_COMPANY_XMLID = "base.main_company"


@dataclass(frozen=True)
class SeedUser:
    login: str
    password: str
    api_key: str
    name: str
    groups: tuple[str, ...]
    xmlid: str


@dataclass(frozen=True)
class SeedSupplier:
    key: str
    name: str
    email: str
    ref: str
    lang: str
    supplier_rank: int
    phone: str
    city: str

    @property
    def xmlid(self) -> str:
        return f"orderchat_demo.supplier_{self.key}"


@dataclass(frozen=True)
class SeedProduct:
    sku: str
    name: str
    name_zh: str
    category: str
    standard_price: float
    supplier: str
    color: str | None = None
    color_zh: str | None = None
    description_zh: str | None = None  # the everyday Chinese name, e.g. "红色中性笔"

    @property
    def xmlid(self) -> str:
        return "orderchat_demo.product_" + self.sku.lower().replace("-", "_")


SEED_USERS: tuple[SeedUser, ...] = (
    SeedUser("admin", "admin", "ocdemo_admin_7c1f4e9a2b6d3058e4a1", "Administrator", (GROUP_SYSTEM, GROUP_PURCHASE_MANAGER), "base.user_admin"),
    SeedUser("buyer", "buyer", "ocdemo_buyer_3e8a51d07f2c9b64a0d5", "Lin Wei", (GROUP_PURCHASE_USER,), "orderchat_demo.user_buyer"),
    SeedUser("viewer", "viewer", "ocdemo_viewer_b2d49f6e13a07c85e9f1", "Zhou Min", (GROUP_USER,), "orderchat_demo.user_viewer"),
)

SEED_SUPPLIERS: tuple[SeedSupplier, ...] = (
    SeedSupplier("sunrise", "Sunrise Paper Mill", "sales@sunrise-paper.example", "SUP-SUNRISE", "zh_CN", 1, "+86 571 8800 1200", "Hangzhou"),
    SeedSupplier("hongyun", "Hongyun Pen Co.", "orders@hongyun-pen.example", "SUP-HONGYUN", "zh_CN", 1, "+86 21 6400 3300", "Shanghai"),
    SeedSupplier("everything", "Everything Office Wholesale", "hello@everything-office.example", "SUP-EVERYTHING", "en_US", 0, "+86 20 3900 4400", "Guangzhou"),
)

SEED_CATEGORIES: tuple[str, ...] = ("Paper", "Pens", "Pencils & Leads", "Notebooks", "Adhesives", "Filing")

SEED_PRODUCTS: tuple[SeedProduct, ...] = (
    SeedProduct("PAP-A4-80", "A4 copy paper 80g (500 sheets)", "A4复印纸 80克 (500张)", "Paper", 22.0, "sunrise", description_zh="A4复印纸"),
    SeedProduct("PEN-GEL05-RED", "Gel pen 0.5 mm", "中性笔 0.5mm", "Pens", 1.2, "hongyun", "Red", "红色", "红色中性笔"),
    SeedProduct("PEN-GEL05-BLU", "Gel pen 0.5 mm", "中性笔 0.5mm", "Pens", 1.2, "hongyun", "Blue", "蓝色", "蓝色中性笔"),
    SeedProduct("PEN-GEL05-BLK", "Gel pen 0.5 mm", "中性笔 0.5mm", "Pens", 1.2, "hongyun", "Black", "黑色", "黑色中性笔"),
    SeedProduct("LEAD-05-HB", "Pencil leads 0.5 mm HB", "铅笔芯 0.5mm HB", "Pencils & Leads", 2.5, "hongyun", description_zh="铅笔芯"),
    SeedProduct("NB-A5-80", "A5 notebook, 80 sheets", "A5笔记本 80页", "Notebooks", 6.8, "sunrise", description_zh="A5笔记本"),
    SeedProduct("GLUE-21G", "Glue stick 21 g", "固体胶 21克", "Adhesives", 3.5, "everything", description_zh="固体胶"),
    SeedProduct("FLD-A4-CLR", "Document folder A4, clear", "A4透明文件夹", "Filing", 1.8, "everything", description_zh="文件夹"),
)

SEED_TAX_NAME = "13% VAT (purchase)"
WEBHOOK_ACTION_NAME = "Send Webhook Notification"
WEBHOOK_ACTION_ID = 1


class _Seeder:
    def __init__(self, env: Env) -> None:
        self.env = env

    def create(self, model: str, vals: dict, xmlid: str | None = None) -> int:
        rec_id = int(self.env[model].create(self.env, vals))
        if xmlid:
            self.xmlid(xmlid, model, rec_id)
        return rec_id

    def xmlid(self, xmlid: str, model: str, res_id: int) -> None:
        module, _dot, name = xmlid.partition(".")
        self.env["ir.model.data"].create(self.env, {"module": module, "name": name, "model": model, "res_id": res_id, "noupdate": True})

    def translate(self, model: str, rec_id: int, field: str, lang: str, text: str) -> None:
        rec = self.env.tx.get(model, rec_id)
        assert rec is not None
        self.env.tx.put(model, {**rec, field: {**rec[field], lang: text}})

    def run(self) -> None:
        cny = self.create("res.currency", {"name": "CNY", "full_name": "Chinese Yuan Renminbi", "symbol": "¥", "position": "before"}, "base.CNY")
        self.create("res.currency", {"name": "USD", "full_name": "United States dollar", "symbol": "$", "position": "before"}, "base.USD")
        company_partner = self.create("res.partner", {"name": SEED_COMPANY_NAME, "is_company": True, "email": "purchasing@inkwell.example", "city": "Suzhou", "lang": "zh_CN"}, "base.main_partner")
        company = self.create("res.company", {"name": SEED_COMPANY_NAME, "partner_id": company_partner, "currency_id": cny, "email": "purchasing@inkwell.example"}, SEED_COMPANY_XMLID)
        self.env.tx.put("res.partner", {**(self.env.tx.get("res.partner", company_partner) or {}), "company_id": company})
        group_ids = {}
        for xmlid, (category, name, _implied) in GROUPS.items():
            group_ids[xmlid] = self.create("res.groups", {"name": name, "category_name": category}, xmlid)
        root_partner = self.create("res.partner", {"name": "OdooBot", "email": "odoobot@example.com"}, "base.partner_root")
        root = self.create("res.users", {"login": "__system__", "partner_id": root_partner, "company_id": company, "company_ids": [company], "active": False}, "base.user_root")
        assert root == SUPERUSER_ID
        for user in SEED_USERS:
            partner = self.create("res.partner", {"name": user.name, "email": f"{user.login}@inkwell.example", "company_id": company, "parent_id": company_partner}, None)
            uid = self.create("res.users", {"login": user.login, "partner_id": partner, "company_id": company, "company_ids": [company], "groups_id": [group_ids[g] for g in user.groups]}, user.xmlid)
            rec = self.env.tx.get("res.users", uid) or {}
            self.env.tx.put("res.users", {**rec, "_password": hash_secret(user.password), "_api_keys": [hash_secret(user.api_key)]})
            if user.login == "admin":
                self.xmlid("base.partner_admin", "res.partner", partner)
        supplier_ids = {}
        for sup in SEED_SUPPLIERS:
            supplier_ids[sup.key] = self.create("res.partner", {
                "name": sup.name, "email": sup.email, "ref": sup.ref, "lang": sup.lang, "is_company": True,
                "supplier_rank": sup.supplier_rank, "phone": sup.phone, "city": sup.city,
            }, sup.xmlid)
        unit = self.create("uom.uom", {"name": "Units", "category_name": "Unit", "factor": 1.0, "uom_type": "reference"}, "uom.product_uom_unit")
        self.translate("uom.uom", unit, "name", "zh_CN", "件")
        dozen = self.create("uom.uom", {"name": "Dozens", "category_name": "Unit", "factor": 1 / 12, "uom_type": "bigger"}, "uom.product_uom_dozen")
        self.translate("uom.uom", dozen, "name", "zh_CN", "打")
        tax = self.create("account.tax", {"name": SEED_TAX_NAME, "amount": 13.0, "amount_type": "percent", "type_tax_use": "purchase", "company_id": company}, "orderchat_demo.tax_purchase_vat13")
        self.translate("account.tax", tax, "name", "zh_CN", "13% 增值税 (采购)")
        root_categ = self.create("product.category", {"name": "All"}, "product.product_category_all")
        categ_ids = {}
        for categ in SEED_CATEGORIES:
            xmlid = "orderchat_demo.categ_" + "".join(c if c.isalnum() else "_" for c in categ.lower()).replace("___", "_")
            categ_ids[categ] = self.create("product.category", {"name": categ, "parent_id": root_categ}, xmlid)
        color = self.create("product.attribute", {"name": "Color"}, "orderchat_demo.attribute_color")
        self.translate("product.attribute", color, "name", "zh_CN", "颜色")
        for product in SEED_PRODUCTS:
            values = []
            if product.color:
                value = self.create("product.template.attribute.value", {"name": product.color, "attribute_id": color})
                self.translate("product.template.attribute.value", value, "name", "zh_CN", product.color_zh or product.color)
                values.append(value)
            pid = self.create("product.product", {
                "name": product.name, "default_code": product.sku, "categ_id": categ_ids[product.category],
                "uom_id": unit, "uom_po_id": unit, "standard_price": product.standard_price,
                "lst_price": round(product.standard_price * 1.6, 2), "supplier_taxes_id": [tax],
                "product_template_variant_value_ids": values, "purchase_ok": True,
                "description_purchase": product.description_zh or False,
            }, product.xmlid)
            self.translate("product.product", pid, "name", "zh_CN", product.name_zh)
            if product.description_zh:
                self.translate("product.product", pid, "description_purchase", "zh_CN", product.description_zh)
        for xmlid, name, internal in (
            ("mail.mt_comment", "Discussions", False),
            ("mail.mt_note", "Note", True),
            ("purchase.mt_rfq_sent", "RFQ Sent", False),
            ("purchase.mt_rfq_confirmed", "RFQ Confirmed", False),
            ("purchase.mt_rfq_approved", "RFQ Approved", False),
            ("purchase.mt_rfq_done", "RFQ Done", False),
        ):
            self.create("mail.message.subtype", {"name": name, "internal": internal, "res_model": False if xmlid.startswith("mail.") else "purchase.order"}, xmlid)


def ensure_ir_models(env: Env) -> None:
    """One ir.model row per model, so `"purchase.order" in odoo.env` works (run on every start)."""
    known = {rec.get("model") for rec in env.tx.records("ir.model")}
    for name, model in env.registry.models.items():
        if name not in known:
            env["ir.model"].create(env, {"model": name, "name": model._description or name})


def seed_database(store: Store, registry: Registry) -> bool:
    """Fill an empty database; returns False when it already holds data (idempotent)."""
    tx = Transaction(store)
    env = Env(registry, tx, SUPERUSER_ID, {"lang": "en_US"}, su=True)
    seeded = False
    if not any(rec.get("module") == "base" and rec.get("name") == "main_company" for rec in tx.records("ir.model.data")):
        _Seeder(env).run()
        seeded = True
    ensure_ir_models(env)
    tx.commit()
    return seeded
