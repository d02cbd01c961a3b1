"""The master data a purchase needs: users, partners, company, currency, products, taxes,
units, plus the `ir.*` models clients use to discover models and external ids."""

from __future__ import annotations

from typing import Any

from .orm import (
    Boolean, Char, Env, Float, Integer, Many2many, Many2one, Model, Monetary, Selection, Text,
    compare_values, rpc_model,
)
from .store import Record


class ResCurrency(Model):
    _name = "res.currency"
    _description = "Currency"
    _order = "active desc, name"

    name = Char("Currency", required=True)
    full_name = Char("Name")
    symbol = Char("Symbol", required=True)
    rounding = Float("Rounding Factor", default=0.01)
    decimal_places = Integer("Decimal Places", default=2)
    position = Selection([("after", "After Amount"), ("before", "Before Amount")], "Symbol Position", default="after")
    active = Boolean("Active", default=True)


class ResCompany(Model):
    _name = "res.company"
    _description = "Companies"
    _order = "sequence, name"

    name = Char("Company Name", required=True)
    partner_id = Many2one("res.partner", "Partner", required=True)
    currency_id = Many2one("res.currency", "Currency", required=True)
    email = Char("Email")
    sequence = Integer("Sequence", default=10)
    po_double_validation = Selection(
        [("one_step", "Confirm purchase orders in one step"), ("two_step", "Get 2 levels of approvals to confirm a purchase order")],
        "Levels of Approvals *", default="one_step",
    )
    po_double_validation_amount = Monetary("Double validation amount", default=5000.0)
    po_lock = Selection(
        [("edit", "Allow to edit purchase orders"), ("lock", "Confirmed purchase orders are not editable")],
        "Purchase Order Modification *", default="edit",
    )
    po_lead = Float("Purchase Lead Time", default=0.0)


class ResPartner(Model):
    _name = "res.partner"
    _description = "Contact"
    _order = "complete_name ASC, id DESC"

    name = Char("Name")
    complete_name = Char("Complete Name", compute=lambda env, rec: _partner_complete_name(env, rec))
    ref = Char("Reference")
    email = Char("Email")
    phone = Char("Phone")
    vat = Char("Tax ID")
    lang = Char("Language", default="en_US")
    city = Char("City")
    is_company = Boolean("Is a Company", default=False)
    parent_id = Many2one("res.partner", "Related Company")
    company_id = Many2one("res.company", "Company")
    supplier_rank = Integer("Supplier Rank", default=0)
    customer_rank = Integer("Customer Rank", default=0)
    active = Boolean("Active", default=True)
    comment = Text("Notes")

    def _display_name(self, env: Env, rec: Record) -> str:
        return _partner_complete_name(env, rec) or super()._display_name(env, rec)

    def _sort_key(self, env: Env, rec: Record, name: str) -> Any:
        if name == "complete_name":
            return (_partner_complete_name(env, rec) or "").lower() or None
        return super()._sort_key(env, rec, name)


def _partner_complete_name(env: Env, rec: Record) -> str:
    name = rec.get("name") or ""
    parent = env.tx.get("res.partner", rec.get("parent_id") or 0)
    if parent and not rec.get("is_company") and parent.get("name"):
        return f"{parent['name']}, {name}"
    return name


class ResGroups(Model):
    _name = "res.groups"
    _description = "Access Groups"
    _order = "name"

    name = Char("Name", required=True, translate=True)
    category_name = Char("Application")
    full_name = Char("Group Name", compute=lambda env, rec: f"{rec.get('category_name')} / {_translated(env, rec.get('name'))}")

    def _display_name(self, env: Env, rec: Record) -> str:
        return str(self._value(env, rec, "full_name"))


def _translated(env: Env, value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get(env.lang) or value.get("en_US") or "")
    return str(value or "")


class ResUsers(Model):
    _name = "res.users"
    _description = "User"
    _order = "name, login"

    name = Char("Name", compute=lambda env, rec: _related(env, "res.partner", rec.get("partner_id"), "name"))
    login = Char("Login", required=True)
    partner_id = Many2one("res.partner", "Related Partner", required=True, ondelete="restrict")
    email = Char("Email", compute=lambda env, rec: _related(env, "res.partner", rec.get("partner_id"), "email"))
    company_id = Many2one("res.company", "Company", required=True)
    company_ids = Many2many("res.company", "Companies")
    groups_id = Many2many("res.groups", "Groups")
    active = Boolean("Active", default=True)
    share = Boolean("Share User", default=False)
    lang = Char("Language", default="en_US")
    tz = Char("Timezone", default="Asia/Shanghai")

    def _display_name(self, env: Env, rec: Record) -> str:
        return str(self._value(env, rec, "name") or rec.get("login") or "")

    @rpc_model
    def context_get(self, env: Env) -> dict[str, Any]:
        """The user's context; odoorpc calls it right after login."""
        user = env.user
        return {"lang": user.get("lang") or "en_US", "tz": user.get("tz") or False, "uid": env.uid}

    @rpc_model
    def has_group(self, env: Env, group_ext_id: str) -> bool:
        return env.access.has_group(env, group_ext_id)


def _related(env: Env, model: str, rec_id: Any, name: str) -> Any:
    target = env.tx.get(model, rec_id or 0)
    return target.get(name) if target else False


class UomUom(Model):
    _name = "uom.uom"
    _description = "Product Unit of Measure"
    _order = "factor DESC, id"

    name = Char("Unit of Measure", required=True, translate=True)
    category_name = Char("Category")
    factor = Float("Ratio", default=1.0)
    uom_type = Selection(
        [("bigger", "Bigger than the reference Unit of Measure"), ("reference", "Reference Unit of Measure for this category"), ("smaller", "Smaller than the reference Unit of Measure")],
        "Type", default="reference",
    )
    rounding = Float("Rounding Precision", default=0.01)
    active = Boolean("Active", default=True)


class ProductCategory(Model):
    _name = "product.category"
    _description = "Product Category"
    _order = "complete_name"
    _rec_name = "complete_name"

    name = Char("Name", required=True)
    parent_id = Many2one("product.category", "Parent Category", ondelete="cascade")
    complete_name = Char("Complete Name", compute=lambda env, rec: _category_path(env, rec))

    def _sort_key(self, env: Env, rec: Record, name: str) -> Any:
        if name == "complete_name":
            return _category_path(env, rec)
        return super()._sort_key(env, rec, name)


def _category_path(env: Env, rec: Record) -> str:
    parent = env.tx.get("product.category", rec.get("parent_id") or 0)
    return f"{_category_path(env, parent)} / {rec.get('name')}" if parent else str(rec.get("name") or "")


class ProductAttribute(Model):
    _name = "product.attribute"
    _description = "Product Attribute"
    _order = "sequence, id"

    name = Char("Attribute", required=True, translate=True)
    sequence = Integer("Sequence", default=20)


class ProductTemplateAttributeValue(Model):
    _name = "product.template.attribute.value"
    _description = "Product Template Attribute Value"
    _order = "attribute_id, id"

    name = Char("Value", required=True, translate=True)
    attribute_id = Many2one("product.attribute", "Attribute", required=True, ondelete="cascade")
    html_color = Char("Color")


class AccountTax(Model):
    _name = "account.tax"
    _description = "Tax"
    _order = "sequence,id"

    name = Char("Tax Name", required=True, translate=True)
    amount = Float("Amount", required=True, default=0.0)
    amount_type = Selection([("group", "Group of Taxes"), ("fixed", "Fixed"), ("percent", "Percentage of Price"), ("division", "Percentage of Price Tax Included")], "Tax Computation", default="percent")
    type_tax_use = Selection([("sale", "Sales"), ("purchase", "Purchases"), ("none", "None")], "Tax Type", default="sale")
    price_include = Boolean("Included in Price", default=False)
    sequence = Integer("Sequence", default=1)
    company_id = Many2one("res.company", "Company")
    active = Boolean("Active", default=True)


class ProductProduct(Model):
    _name = "product.product"
    _description = "Product Variant"
    _order = "default_code, name, id"

    name = Char("Name", required=True, translate=True)
    default_code = Char("Internal Reference")
    barcode = Char("Barcode")
    detailed_type = Selection([("consu", "Consumable"), ("service", "Service"), ("product", "Storable Product")], "Product Type", default="consu")
    categ_id = Many2one("product.category", "Product Category", required=True)
    purchase_ok = Boolean("Can be Purchased", default=True)
    sale_ok = Boolean("Can be Sold", default=True)
    uom_id = Many2one("uom.uom", "Unit of Measure", required=True)
    uom_po_id = Many2one("uom.uom", "Purchase Unit", required=True)
    standard_price = Float("Cost", default=0.0)
    lst_price = Float("Sales Price", default=0.0)
    supplier_taxes_id = Many2many("account.tax", "Vendor Taxes")
    description_purchase = Text("Purchase Description", translate=True)
    product_template_variant_value_ids = Many2many("product.template.attribute.value", "Variant Values")
    active = Boolean("Active", default=True)

    def _display_name(self, env: Env, rec: Record) -> str:
        """Odoo's variant name: "[CODE] Name (Value, Value)"."""
        name = _translated(env, rec.get("name"))
        values = [
            _translated(env, v.get("name"))
            for v in env["product.template.attribute.value"]._browse_existing(env, rec.get("product_template_variant_value_ids") or [])
        ]
        if values:
            name = f"{name} ({', '.join(values)})"
        code = rec.get("default_code")
        return f"[{code}] {name}" if code else name

    def _name_matches(self, env: Env, rec_id: int, name: str, operator: str) -> bool:
        # Odoo searches variants by internal reference first, then by name.
        rec = env.tx.get(self._name, rec_id)
        if rec is None:
            return False
        return compare_values(rec.get("default_code"), "=ilike" if operator == "=" else operator, name) or compare_values(
            self._display_name(env, rec), operator, name
        )


class IrModel(Model):
    _name = "ir.model"
    _description = "Models"
    _order = "model"

    name = Char("Model Description", required=True, translate=True)
    model = Char("Model", required=True)
    transient = Boolean("Transient Model", default=False)


class IrModelData(Model):
    _name = "ir.model.data"
    _description = "Model Data"
    _order = "module, model, name"

    name = Char("External Identifier", required=True)
    module = Char("Module", required=True)
    model = Char("Model Name", required=True)
    res_id = Integer("Record ID")
    complete_name = Char("Complete ID", compute=lambda env, rec: f"{rec.get('module')}.{rec.get('name')}")
    noupdate = Boolean("Non Updatable", default=False)

    def _display_name(self, env: Env, rec: Record) -> str:
        return f"{rec.get('module')}.{rec.get('name')}"

    @rpc_model
    def check_object_reference(self, env: Env, module: str, xml_id: str, raise_on_access_error: bool = False) -> list[Any]:
        """[model, res_id] of an external id (what odoorpc's `env.ref` calls)."""
        for rec in env.tx.records(self._name):
            if rec.get("module") == module and rec.get("name") == xml_id:
                target = env.tx.get(rec["model"], rec["res_id"])
                if target is None:
                    break
                return [rec["model"], rec["res_id"]]
        raise ValueError(f"External ID not found in the system: {module}.{xml_id}")
