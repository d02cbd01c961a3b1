"""A small ORM with Odoo's external behaviour: fields, domains, CRUD, x2many commands.

Records are plain dicts stored through a `Transaction`; a model is a singleton class whose
public methods marked `@rpc` / `@rpc_model` are what clients may call (`execute_kw`,
JSON-2). Everything a client can observe follows Odoo 17: read formats, error texts for
unknown fields and bad selection values, magic fields, search domains and ordering.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field as dc_field
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import AccessError, MissingError, ValidationError
from .store import Record, Transaction

if TYPE_CHECKING:
    from .access import Access

MAGIC_FIELDS = ("id", "display_name", "create_date", "create_uid", "write_date", "write_uid")
SUPERUSER_ID = 1
X2MANY = ("one2many", "many2many")
RELATIONAL = ("many2one", "one2many", "many2many")
LEAF_OPERATORS = (
    "=", "!=", "<>", "<", ">", "<=", ">=", "in", "not in", "like", "not like", "ilike",
    "not ilike", "=like", "=ilike", "child_of", "parent_of",
)


# ---------------------------------------------------------------------------------- fields


class Field:
    """One field of a model, with the attributes `fields_get` reports."""

    def __init__(
        self,
        type: str,
        string: str,
        *,
        required: bool = False,
        readonly: bool = False,
        relation: str | None = None,
        inverse_name: str | None = None,
        selection: Sequence[tuple[str, str]] | None = None,
        default: Any = None,
        compute: Callable[[Env, Record], Any] | None = None,
        translate: bool = False,
        ondelete: str = "set null",
        help: str | None = None,
    ) -> None:
        self.type = type
        self.string = string
        self.required = required
        self.relation = relation
        self.inverse_name = inverse_name
        self.selection = list(selection) if selection is not None else None
        self.default = default
        self.compute = compute
        self.store = compute is None
        self.readonly = readonly or compute is not None
        self.translate = translate
        self.ondelete = ondelete
        self.help = help
        self.name = ""
        self.model_name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return f"{self.model_name}.{self.name}"

    def describe(self) -> dict[str, Any]:
        desc: dict[str, Any] = {
            "type": self.type,
            "string": self.string,
            "readonly": self.readonly,
            "required": self.required,
            "store": self.store,
            "searchable": True,
            "sortable": self.store and self.type not in X2MANY,
            "manual": False,
            "company_dependent": False,
            "depends": [],
        }
        if self.help:
            desc["help"] = self.help
        if self.relation:
            desc["relation"] = self.relation
            desc["context"] = {}
            desc["domain"] = []
        if self.type == "one2many":
            desc["relation_field"] = self.inverse_name
        if self.selection is not None:
            desc["selection"] = [list(pair) for pair in self.selection]
        if self.type in ("char", "text", "html"):
            desc["translate"] = self.translate
        return desc


def Char(string: str, **kw: Any) -> Field:
    return Field("char", string, **kw)


def Text(string: str, **kw: Any) -> Field:
    return Field("text", string, **kw)


def Html(string: str, **kw: Any) -> Field:
    return Field("html", string, **kw)


def Integer(string: str, **kw: Any) -> Field:
    return Field("integer", string, **kw)


def Float(string: str, **kw: Any) -> Field:
    return Field("float", string, **kw)


def Monetary(string: str, **kw: Any) -> Field:
    return Field("monetary", string, **kw)


def Boolean(string: str, **kw: Any) -> Field:
    return Field("boolean", string, **kw)


def Date(string: str, **kw: Any) -> Field:
    return Field("date", string, **kw)


def Datetime(string: str, **kw: Any) -> Field:
    return Field("datetime", string, **kw)


def Selection(selection: Sequence[tuple[str, str]], string: str, **kw: Any) -> Field:
    return Field("selection", string, selection=selection, **kw)


def Many2one(relation: str, string: str, **kw: Any) -> Field:
    return Field("many2one", string, relation=relation, **kw)


def One2many(relation: str, inverse_name: str, string: str, **kw: Any) -> Field:
    return Field("one2many", string, relation=relation, inverse_name=inverse_name, **kw)


def Many2many(relation: str, string: str, **kw: Any) -> Field:
    return Field("many2many", string, relation=relation, **kw)


# ------------------------------------------------------------------------ RPC method marks


def rpc(func: Callable[..., Any]) -> Callable[..., Any]:
    """A public method called on records: `(self, env, ids, ...)`."""
    func._rpc = "records"  # type: ignore[attr-defined]
    return func


def rpc_model(func: Callable[..., Any]) -> Callable[..., Any]:
    """A public method called on the model (Odoo's `@api.model`): `(self, env, ...)`."""
    func._rpc = "model"  # type: ignore[attr-defined]
    return func


# ------------------------------------------------------------------------------ environment


@dataclass
class Env:
    """Who calls, with which context, inside which transaction (Odoo's `env`)."""

    registry: Registry
    tx: Transaction
    uid: int
    context: dict[str, Any] = dc_field(default_factory=dict)
    su: bool = False

    def __getitem__(self, model_name: str) -> Model:
        return self.registry.models[model_name]

    def sudo(self) -> Env:
        return Env(self.registry, self.tx, self.uid, self.context, su=True)

    def with_context(self, **extra: Any) -> Env:
        return Env(self.registry, self.tx, self.uid, {**self.context, **extra}, self.su)

    @property
    def lang(self) -> str:
        return str(self.context.get("lang") or "en_US")

    @property
    def user(self) -> Record:
        user = self.tx.get("res.users", self.uid)
        assert user is not None, "the environment's user exists"
        return user

    @property
    def access(self) -> Access:
        return self.registry.access


class Registry:
    """All models by name, plus the access rules they check."""

    def __init__(self, access: Access) -> None:
        self.models: dict[str, Model] = {}
        self.access = access

    def add(self, model: Model) -> None:
        self.models[model._name] = model
        for fld in model._fields.values():
            fld.model_name = model._name

    def __contains__(self, name: str) -> bool:
        return name in self.models


# ------------------------------------------------------------------------------- domains


def _parse_domain(domain: Sequence[Any]) -> Any:
    """Odoo's prefix notation ('&', '|', '!' before their operands) into a tree."""
    items = list(domain)
    pos = 0

    def parse() -> Any:
        nonlocal pos
        if pos >= len(items):
            raise ValueError(f"Invalid domain {domain!r}")
        token = items[pos]
        pos += 1
        if token == "!":
            return ("!", parse())
        if token in ("&", "|"):
            left = parse()
            return (token, left, parse())
        if isinstance(token, (list, tuple)) and len(token) == 3:
            return ("leaf", tuple(token))
        raise ValueError(f"Invalid leaf {token!r}")

    nodes = []
    while pos < len(items):
        nodes.append(parse())
    if not nodes:
        return ("leaf", (1, "=", 1))
    tree = nodes[-1]
    for node in reversed(nodes[:-1]):  # implicit '&' between top-level terms
        tree = ("&", node, tree)
    return tree


def _like_regex(pattern: str, wrap: bool, insensitive: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    body = "".join(parts)
    if wrap:
        body = f".*{body}.*"
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if insensitive else 0))


def _is_null(value: Any) -> bool:
    return value is None or value is False


def compare_values(value: Any, operator: str, target: Any) -> bool:
    """SQL-like comparison: NULL never matches `<`, `like`...; `!=` and `not ...` include NULL."""
    if operator == "<>":
        operator = "!="
    if operator in ("=", "!="):
        if _is_null(target):
            equal = _is_null(value) or value == ""
        else:
            equal = not _is_null(value) and value == target
        return equal if operator == "=" else not equal
    if operator in ("in", "not in"):
        targets = list(target) if isinstance(target, (list, tuple, set)) else [target]
        inside = (not _is_null(value) and value in [t for t in targets if not _is_null(t)]) or (
            _is_null(value) and any(_is_null(t) for t in targets)
        )
        return inside if operator == "in" else not inside
    if operator in ("like", "not like", "ilike", "not ilike", "=like", "=ilike"):
        negative = operator.startswith("not ")
        if _is_null(value):
            return negative
        base = operator.removeprefix("not ")
        regex = _like_regex(str(target), wrap=not base.startswith("="), insensitive="ilike" in base)
        found = bool(regex.match(str(value)))
        return not found if negative else found
    if _is_null(value) or _is_null(target):
        return False
    try:
        if operator == "<":
            return value < target
        if operator == ">":
            return value > target
        if operator == "<=":
            return value <= target
        if operator == ">=":
            return value >= target
    except TypeError:
        return False
    raise ValueError(f"Invalid operator {operator!r}")


# ---------------------------------------------------------------------------------- model


class Model:
    """Base of every model. Subclasses declare `_name`, `_description` and Field attributes."""

    _name: ClassVar[str] = ""
    _description: ClassVar[str] = ""
    _order: ClassVar[str] = "id"
    _rec_name: ClassVar[str | None] = "name"
    _fields: ClassVar[dict[str, Field]] = {}

    id = Integer("ID", readonly=True)
    display_name = Char("Display Name", readonly=True)
    create_date = Datetime("Created on", readonly=True)
    create_uid = Many2one("res.users", "Created by", readonly=True)
    write_date = Datetime("Last Updated on", readonly=True)
    write_uid = Many2one("res.users", "Last Updated by", readonly=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        collected: dict[str, Field] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Field):
                    # each model gets its own copy: inherited fields (id, write_date, ...)
                    # must know which model they belong to for error messages
                    collected[name] = copy.copy(value)
        cls._fields = collected

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    # ------------------------------------------------------------------ low-level access

    def _exists(self, env: Env, rec_id: int) -> bool:
        return env.tx.get(self._name, rec_id) is not None

    def _browse(self, env: Env, ids: Iterable[int]) -> list[Record]:
        """Records for a business method; a missing id fails as Odoo's field access does."""
        records = []
        for rec_id in ids:
            rec = env.tx.get(self._name, rec_id)
            if rec is None:
                raise MissingError(
                    "Record does not exist or has been deleted.\n"
                    f"(Record: {self._name}({rec_id},), User: {env.uid})"
                )
            records.append(rec)
        return records

    def _browse_for(self, env: Env, ids: Sequence[int], operation: str) -> list[Record]:
        """Records for write-like ORM calls; missing ids fail with Odoo's access-rule text."""
        missing = [rec_id for rec_id in ids if not self._exists(env, rec_id)]
        if missing:
            raise MissingError(
                "One of the documents you are trying to access has been deleted, please try "
                "again after refreshing.\n\n"
                f"(Document type: {self._name}, Operation: {operation}, Records: {missing[:6]}, "
                f"User: {env.uid})"
            )
        return [r for r in (env.tx.get(self._name, i) for i in ids) if r is not None]

    def _check_access(self, env: Env, mode: str) -> None:
        if not env.su:
            env.access.check(env, self, mode)

    def _field(self, name: str) -> Field:
        fld = self._fields.get(name)
        if fld is None:
            raise ValueError(f"Invalid field {name!r} on model {self._name!r}")
        return fld

    # ------------------------------------------------------------------ values

    def _display_name(self, env: Env, rec: Record) -> str:
        if self._rec_name and self._rec_name in self._fields:
            value = self._value(env, rec, self._rec_name)
            if value:
                return str(value)
        return f"{self._name},{rec['id']}"

    def _value(self, env: Env, rec: Record, name: str) -> Any:
        """The Python value of a field: stored, computed, or derived (o2m, translations)."""
        fld = self._fields[name]
        if name == "display_name":
            return self._display_name(env, rec)
        if fld.compute is not None:
            return fld.compute(env, rec)
        if fld.type == "one2many":
            comodel = env[fld.relation or ""]
            ids = [r["id"] for r in env.tx.records(comodel._name) if r.get(fld.inverse_name or "") == rec["id"]]
            return comodel._sorted_ids(env, ids)
        if fld.type == "many2many":
            comodel_name = fld.relation or ""
            return [i for i in rec.get(name) or [] if env.tx.get(comodel_name, i) is not None]
        value = rec.get(name)
        if fld.translate and isinstance(value, dict):
            return value.get(env.lang) or value.get("en_US") or False
        return value

    def _convert_to_read(self, env: Env, rec: Record, name: str, load: str | None) -> Any:
        fld = self._fields[name]
        value = self._value(env, rec, name)
        if fld.type == "many2one":
            if not value:
                return False
            if load != "_classic_read":
                return value
            target = env.tx.get(fld.relation or "", value)
            if target is None:
                return False
            return [value, env[fld.relation or ""]._display_name(env, target)]
        if fld.type in X2MANY:
            return list(value or [])
        if fld.type == "boolean":
            return bool(value)
        if fld.type == "integer":
            return int(value or 0)
        if fld.type in ("float", "monetary"):
            return float(value or 0.0)
        return False if value is None or value is False else value

    # ------------------------------------------------------------------ validation of writes

    def _clean_vals(self, vals: dict[str, Any]) -> dict[str, Any]:
        """Refuse unknown fields, drop magic ones (Odoo silently ignores them), check values."""
        if not isinstance(vals, dict):
            raise TypeError(f"vals must be a dict, not {type(vals).__name__}")
        cleaned: dict[str, Any] = {}
        for name, value in vals.items():
            fld = self._field(name)
            if name in MAGIC_FIELDS:
                continue
            if fld.compute is not None:
                continue  # non-stored computed fields without inverse: Odoo ignores the value
            cleaned[name] = self._convert_to_cache(fld, value)
        return cleaned

    def _convert_to_cache(self, fld: Field, value: Any) -> Any:
        if fld.type == "selection":
            if _is_null(value):
                return False
            if value not in [key for key, _label in fld.selection or []]:
                raise ValueError(f"Wrong value for {fld}: {value!r}")
            return value
        if fld.type == "many2one":
            if _is_null(value):
                return False
            if isinstance(value, (list, tuple)) and value:
                value = value[0]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"Wrong value for {fld}: {value!r}")
            return value
        if fld.type in X2MANY:
            return value
        if fld.type == "boolean":
            return bool(value)
        if fld.type == "integer":
            return False if _is_null(value) else int(value)
        if fld.type in ("float", "monetary"):
            return 0.0 if _is_null(value) else float(value)
        if fld.type == "datetime":
            return self._normalize_datetime(fld, value)
        if fld.type == "date":
            if _is_null(value):
                return False
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value[:10]):
                raise ValueError(f"time data {value!r} does not match format '%Y-%m-%d'")
            return value[:10]
        if _is_null(value):
            return False
        if not isinstance(value, str):
            value = str(value)
        return value

    @staticmethod
    def _normalize_datetime(fld: Field, value: Any) -> Any:
        if _is_null(value):
            return False
        if not isinstance(value, str):
            raise ValueError(f"Wrong value for {fld}: {value!r}")
        text = value.replace("T", " ")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            text += " 00:00:00"
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?", text):
            raise ValueError(f"time data {value!r} does not match format '%Y-%m-%d %H:%M:%S'")
        return text[:19]

    def _check_required(self, env: Env, rec: Record) -> None:
        for name, fld in self._fields.items():
            if fld.required and fld.store and fld.type not in X2MANY and _is_null(rec.get(name)):
                raise ValidationError(
                    "The operation cannot be completed:\n"
                    "- Create/update: a mandatory field is not set.\n"
                    "- Delete: another model requires the record being deleted. If possible, "
                    "archive it instead.\n\n"
                    f"Model: {self._description} ({self._name})\n"
                    f"Field: {fld.string} ({name})\n"
                )

    def _check_foreign_keys(self, env: Env, rec: Record, names: Iterable[str]) -> None:
        for name in names:
            fld = self._fields[name]
            if name in MAGIC_FIELDS:
                continue  # create_uid/write_uid: the superuser may not exist yet while seeding
            if fld.type == "many2one" and rec.get(name) and env.tx.get(fld.relation or "", rec[name]) is None:
                raise ValidationError(
                    "The operation cannot be completed: another model requires the record being "
                    "deleted. If possible, archive it instead.\n\n"
                    f"Model: {self._description} ({self._name})\n"
                    f"Constraint: {self._name.replace('.', '_')}_{name}_fkey\n"
                )

    # ------------------------------------------------------------------ hooks for subclasses

    def _default_values(self, env: Env) -> dict[str, Any]:
        values = {}
        for name, fld in self._fields.items():
            if fld.default is not None:
                values[name] = fld.default(env) if callable(fld.default) else fld.default
        return values

    def _prepare_create(self, env: Env, vals: dict[str, Any]) -> dict[str, Any]:
        return vals

    def _before_write(self, env: Env, records: list[Record], vals: dict[str, Any]) -> None:
        pass

    def _after_create(self, env: Env, ids: list[int]) -> None:
        pass

    def _after_write(self, env: Env, ids: list[int], vals: dict[str, Any]) -> None:
        pass

    def _before_unlink(self, env: Env, records: list[Record]) -> None:
        pass

    def _validate(self, env: Env, ids: list[int]) -> None:
        """Constraints checked after create/write (Odoo's @api.constrains / SQL checks)."""

    # ------------------------------------------------------------------ raw storage

    def _create_record(self, env: Env, vals: dict[str, Any]) -> int:
        """Insert one record (access already checked); x2many commands are applied after."""
        vals = self._clean_vals(vals)
        vals = self._prepare_create(env, vals)
        values = {**self._default_values(env), **vals}
        rec_id = env.tx.next_value(f"id:{self._name}")
        rec: Record = {"id": rec_id}
        x2many: dict[str, Any] = {}
        for name, value in values.items():
            fld = self._fields[name]
            if fld.type == "one2many":
                x2many[name] = value
            elif fld.type == "many2many":
                rec[name] = self._apply_m2m([], value)
            elif fld.translate and isinstance(value, str):
                # Odoo 17 stores translated fields as {lang: text}, the source in en_US.
                rec[name] = {"en_US": value, env.lang: value}
            else:
                rec[name] = value
        rec.update(create_date=env.tx.now, create_uid=env.uid, write_date=env.tx.now, write_uid=env.uid)
        self._check_required(env, rec)
        self._check_foreign_keys(env, rec, [n for n in rec if n in self._fields])
        env.tx.put(self._name, rec)
        env.tx.touch(self._name, rec_id)
        for name, commands in x2many.items():
            self._apply_o2m(env, rec_id, self._fields[name], commands)
        return rec_id

    def _write_records(self, env: Env, records: list[Record], vals: dict[str, Any]) -> None:
        """Update records in place (access already checked) and stamp the magic fields."""
        for rec in records:
            new = dict(rec)
            o2m: dict[str, Any] = {}
            for name, value in vals.items():
                fld = self._fields[name]
                if fld.type == "one2many":
                    o2m[name] = value
                elif fld.type == "many2many":
                    new[name] = self._apply_m2m(list(rec.get(name) or []), value)
                elif fld.translate and isinstance(rec.get(name), dict) and not _is_null(value):
                    new[name] = {**rec[name], env.lang: value}
                else:
                    new[name] = value
            new.update(write_date=env.tx.now, write_uid=env.uid)
            self._check_required(env, new)
            self._check_foreign_keys(env, new, [n for n in vals if n in self._fields])
            env.tx.put(self._name, new)
            env.tx.touch(self._name, rec["id"])
            for name, commands in o2m.items():
                self._apply_o2m(env, rec["id"], self._fields[name], commands)

    def _touch_records(self, env: Env, ids: Iterable[int], vals: dict[str, Any] | None = None) -> None:
        """A recomputation of stored fields: Odoo's `_write` stamps write_date/write_uid too."""
        for rec_id in ids:
            rec = env.tx.get(self._name, rec_id)
            if rec is None:
                continue
            env.tx.put(self._name, {**rec, **(vals or {}), "write_date": env.tx.now, "write_uid": env.uid})
            env.tx.touch(self._name, rec_id)

    def _delete_records(self, env: Env, ids: list[int]) -> None:
        """Delete, then follow the database's ondelete rules of every many2one pointing here."""
        for rec_id in ids:
            env.tx.delete(self._name, rec_id)
        gone = set(ids)
        for model in env.registry.models.values():
            for fld in model._fields.values():
                if fld.type != "many2one" or fld.relation != self._name or not fld.store:
                    continue
                hits = [r["id"] for r in env.tx.records(model._name) if r.get(fld.name) in gone]
                if not hits:
                    continue
                if fld.ondelete == "cascade":
                    model._delete_records(env, hits)
                elif fld.ondelete == "restrict":
                    raise ValidationError(
                        "The operation cannot be completed: another model requires the record "
                        "being deleted. If possible, archive it instead.\n\n"
                        f"Model: {model._description} ({model._name})\n"
                        f"Constraint: {model._name.replace('.', '_')}_{fld.name}_fkey\n"
                    )
                else:
                    for hit in hits:
                        rec = env.tx.get(model._name, hit)
                        if rec is not None:
                            env.tx.put(model._name, {**rec, fld.name: False})

    @staticmethod
    def _normalize_commands(commands: Any) -> list[Any]:
        if commands in (None, False):
            return []
        if not isinstance(commands, (list, tuple)):
            raise ValueError(f"Wrong x2many value {commands!r}")
        if commands and all(isinstance(c, int) and not isinstance(c, bool) for c in commands):
            return [(6, 0, list(commands))]  # a bare list of ids means "replace by these"
        return [tuple(c) if isinstance(c, (list, tuple)) else c for c in commands]

    def _apply_m2m(self, current: list[int], commands: Any) -> list[int]:
        result = list(current)
        for command in self._normalize_commands(commands):
            code = command[0]
            if code == 4 and command[1] not in result:
                result.append(command[1])
            elif code in (2, 3) and command[1] in result:
                result.remove(command[1])
            elif code == 5:
                result = []
            elif code == 6:
                result = list(dict.fromkeys(command[2] or []))
            elif code not in (0, 1, 2, 3, 4, 5, 6):
                raise ValueError(f"Invalid x2many command {command!r}")
        return result

    def _apply_o2m(self, env: Env, rec_id: int, fld: Field, commands: Any) -> None:
        """One2many commands go through the comodel's own create/write/unlink, as in Odoo."""
        comodel = env[fld.relation or ""]
        inverse = fld.inverse_name or ""
        for command in self._normalize_commands(commands):
            code = command[0]
            if code == 0:
                comodel.create(env, {**command[2], inverse: rec_id})
            elif code == 1:
                comodel.write(env, [command[1]], command[2])
            elif code in (2, 3):
                # (3, id) on a one2many whose inverse is required with ondelete=cascade
                # deletes the line in Odoo too.
                comodel.unlink(env, [command[1]])
            elif code == 4:
                comodel.write(env, [command[1]], {inverse: rec_id})
            elif code in (5, 6):
                keep = set(command[2] or []) if code == 6 else set()
                current = self._value(env, env.tx.get(self._name, rec_id) or {"id": rec_id}, fld.name)
                stale = [i for i in current if i not in keep]
                if stale:
                    comodel.unlink(env, stale)
                for link_id in keep - set(current):
                    comodel.write(env, [link_id], {inverse: rec_id})
            else:
                raise ValueError(f"Invalid one2many command {command!r}")

    # ------------------------------------------------------------------ search

    def _check_domain(self, env: Env, node: Any) -> None:
        kind = node[0]
        if kind == "leaf":
            self._check_leaf(env, node[1])
        elif kind == "!":
            self._check_domain(env, node[1])
        else:
            self._check_domain(env, node[1])
            self._check_domain(env, node[2])

    def _check_leaf(self, env: Env, leaf: tuple[Any, ...]) -> None:
        path, operator, _value = leaf
        if path in (0, 1) and operator == "=":
            return  # TRUE_LEAF / FALSE_LEAF
        if not isinstance(path, str) or operator not in LEAF_OPERATORS:
            raise ValueError(f"Invalid leaf {leaf!r}")
        model: Model = self
        for part in path.split("."):
            if part not in model._fields:
                raise ValueError(f"Invalid field {model._name}.{part} in leaf {leaf!r}")
            fld = model._fields[part]
            if fld.relation:
                model = env[fld.relation]

    def _filtered_domain(self, env: Env, ids: Iterable[int], domain: Sequence[Any]) -> list[int]:
        tree = _parse_domain(domain or [])
        self._check_domain(env, tree)
        result = []
        for rec_id in ids:
            rec = env.tx.get(self._name, rec_id)
            if rec is not None and self._match(env, rec, tree):
                result.append(rec_id)
        return result

    def _match(self, env: Env, rec: Record, node: Any) -> bool:
        kind = node[0]
        if kind == "!":
            return not self._match(env, rec, node[1])
        if kind == "&":
            return self._match(env, rec, node[1]) and self._match(env, rec, node[2])
        if kind == "|":
            return self._match(env, rec, node[1]) or self._match(env, rec, node[2])
        return self._match_leaf(env, rec, node[1])

    def _match_leaf(self, env: Env, rec: Record, leaf: tuple[Any, ...]) -> bool:
        path, operator, target = leaf
        if path in (0, 1):
            return path == target
        name, _dot, rest = path.partition(".")
        fld = self._fields[name]
        if operator in ("child_of", "parent_of"):
            return self._match_hierarchy(env, rec, fld, operator, target)
        if rest:
            comodel = env[fld.relation or ""]
            value = self._value(env, rec, name)
            related = value if isinstance(value, list) else ([value] if value else [])
            return bool(comodel._filtered_domain(env, related, [(rest, operator, target)]))
        if fld.type == "many2one" or name == "id":
            value = rec["id"] if name == "id" else self._value(env, rec, name)
            if isinstance(target, str) or (
                isinstance(target, (list, tuple)) and any(isinstance(t, str) for t in target)
            ):
                return self._match_by_name(env, fld, value, operator, target)
            return compare_values(value or None, operator, target)
        if fld.type in X2MANY:
            value = self._value(env, rec, name)
            if isinstance(target, str):
                names = [env[fld.relation or ""]._display_name(env, r) for r in env[fld.relation or ""]._browse_existing(env, value)]
                return any(compare_values(n, operator, target) for n in names)
            targets = target if isinstance(target, (list, tuple)) else [target]
            if operator in ("=", "in"):
                if _is_null(target):
                    return not value
                return bool(set(value) & set(targets))
            if operator in ("!=", "<>", "not in"):
                if _is_null(target):
                    return bool(value)
                return not set(value) & set(targets)
            return False
        value = self._value(env, rec, name)
        if fld.type == "datetime" and isinstance(target, str):
            target = self._normalize_datetime(fld, target)
        return compare_values(value, operator, target)

    def _browse_existing(self, env: Env, ids: Iterable[int]) -> list[Record]:
        return [r for r in (env.tx.get(self._name, i) for i in ids) if r is not None]

    def _match_by_name(self, env: Env, fld: Field, value: Any, operator: str, target: Any) -> bool:
        """('partner_id', 'ilike', 'Sunrise'): Odoo compares with the comodel's name."""
        if not value:
            return compare_values(None, operator, target)
        comodel = env[fld.relation or self._name]
        target_rec = env.tx.get(comodel._name, value)
        label = comodel._display_name(env, target_rec) if target_rec else None
        return compare_values(label, operator, target)

    def _match_hierarchy(self, env: Env, rec: Record, fld: Field, operator: str, target: Any) -> bool:
        comodel = env[fld.relation or self._name] if fld.name != "id" else self
        roots = target if isinstance(target, (list, tuple)) else [target]
        root_ids: list[int] = []
        for root in roots:
            if isinstance(root, str):
                root_ids += comodel._filtered_domain(env, env.tx.ids(comodel._name), [("display_name", "=", root)])
            elif root:
                root_ids.append(int(root))
        value = rec["id"] if fld.name == "id" else self._value(env, rec, fld.name)
        values = value if isinstance(value, list) else ([value] if value else [])
        for val in values:
            chain = comodel._ancestors(env, val) if operator == "child_of" else [val]
            if operator == "child_of" and set(chain) & set(root_ids):
                return True
            if operator == "parent_of" and any(val in comodel._ancestors(env, r) for r in root_ids):
                return True
        return False

    def _ancestors(self, env: Env, rec_id: int) -> list[int]:
        chain: list[int] = []
        current: Any = rec_id
        while current and current not in chain:
            chain.append(current)
            rec = env.tx.get(self._name, current)
            current = rec.get("parent_id") if rec else None
        return chain

    def _sort_key(self, env: Env, rec: Record, name: str) -> Any:
        fld = self._fields[name]
        value = self._value(env, rec, name)
        if fld.type == "many2one":
            target = env.tx.get(fld.relation or "", value) if value else None
            return env[fld.relation or ""]._display_name(env, target) if target else None
        return None if _is_null(value) and fld.type != "boolean" else value

    def _parse_order(self, order: str | None) -> list[tuple[str, bool]]:
        terms = []
        for term in (order or self._order).split(","):
            parts = term.strip().split()
            if not parts:
                continue
            name = parts[0]
            direction = parts[1].lower() if len(parts) > 1 else "asc"
            if name not in self._fields or direction not in ("asc", "desc") or len(parts) > 3:
                raise ValueError(f"Invalid \"order\" specified ({order}). A valid \"order\" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)")
            terms.append((name, direction == "desc"))
        return terms

    def _sorted_ids(self, env: Env, ids: Iterable[int], order: str | None = None) -> list[int]:
        terms = self._parse_order(order) + [("id", False)]
        records = self._browse_existing(env, ids)

        def compare(a: Record, b: Record) -> int:
            for name, desc in terms:
                va, vb = self._sort_key(env, a, name), self._sort_key(env, b, name)
                if va == vb:
                    continue
                # PostgreSQL: NULLs sort last ascending and first descending.
                if va is None:
                    return 1 if not desc else -1
                if vb is None:
                    return -1 if not desc else 1
                try:
                    less = va < vb
                except TypeError:
                    less = str(va) < str(vb)
                result = -1 if less else 1
                return -result if desc else result
            return 0

        return [r["id"] for r in sorted(records, key=functools.cmp_to_key(compare))]

    def _search(self, env: Env, domain: Sequence[Any], offset: int = 0, limit: int | None = None, order: str | None = None) -> list[int]:
        ids = self._filtered_domain(env, env.tx.ids(self._name), domain)
        ids = self._active_filter(env, ids, domain)
        ids = self._sorted_ids(env, ids, order)
        ids = ids[int(offset or 0):]
        return ids[: int(limit)] if limit else ids

    def _active_filter(self, env: Env, ids: list[int], domain: Sequence[Any] = ()) -> list[int]:
        """Odoo hides archived records unless `active_test` is False or the domain names `active`."""
        if "active" not in self._fields or env.context.get("active_test", True) is False:
            return ids
        if any(isinstance(leaf, (list, tuple)) and len(leaf) == 3 and leaf[0] == "active" for leaf in domain or ()):
            return ids
        return [i for i in ids if (env.tx.get(self._name, i) or {}).get("active", True) is not False]

    # ------------------------------------------------------------------ read

    def _read(self, env: Env, ids: Sequence[int], fields: Sequence[str] | None, load: str | None) -> list[dict[str, Any]]:
        names = list(fields) if fields else [n for n in self._fields if self._readable_by_default(n)]
        for name in names:
            self._field(name)
        rows = []
        for rec_id in ids:
            rec = env.tx.get(self._name, rec_id)
            if rec is None:
                continue  # Odoo 17 silently leaves out records that no longer exist
            row: dict[str, Any] = {"id": rec_id}
            for name in names:
                if name != "id":
                    row[name] = self._convert_to_read(env, rec, name, load)
            rows.append(row)
        return rows

    def _readable_by_default(self, name: str) -> bool:
        return True

    # ============================================================ public ORM methods (RPC)

    @rpc_model
    def fields_get(self, env: Env, allfields: Sequence[str] | None = None, attributes: Sequence[str] | None = None) -> dict[str, Any]:
        self._check_access(env, "read")
        result = {}
        for name, fld in self._fields.items():
            if allfields and name not in allfields:
                continue
            desc = fld.describe()
            if name == "display_name":
                desc["store"] = False
            result[name] = {k: v for k, v in desc.items() if not attributes or k in attributes}
        return result

    @rpc_model
    def default_get(self, env: Env, fields_list: Sequence[str]) -> dict[str, Any]:
        defaults = self._default_values(env)
        result = {}
        for name in fields_list:
            self._field(name)
            if name in defaults:
                result[name] = defaults[name]
        return result

    @rpc_model
    def search(self, env: Env, domain: Sequence[Any], offset: int = 0, limit: int | None = None, order: str | None = None) -> list[int]:
        self._check_access(env, "read")
        return self._search(env, domain, offset, limit, order)

    @rpc_model
    def search_count(self, env: Env, domain: Sequence[Any], limit: int | None = None) -> int:
        self._check_access(env, "read")
        return len(self._search(env, domain, limit=limit))

    @rpc_model
    def search_read(
        self,
        env: Env,
        domain: Sequence[Any] | None = None,
        fields: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        load: str = "_classic_read",
    ) -> list[dict[str, Any]]:
        self._check_access(env, "read")
        ids = self._search(env, domain or [], offset, limit, order)
        return self._read(env, ids, fields, load)

    @rpc
    def read(self, env: Env, ids: list[int], fields: Sequence[str] | None = None, load: str = "_classic_read") -> list[dict[str, Any]]:
        self._check_access(env, "read")
        return self._read(env, ids, fields, load)

    @rpc_model
    def name_search(
        self,
        env: Env,
        name: str = "",
        domain: Sequence[Any] | None = None,
        operator: str = "ilike",
        limit: int = 100,
        args: Sequence[Any] | None = None,
    ) -> list[list[Any]]:
        """`args` is Odoo 17's name for the extra domain, `domain` Odoo 18's."""
        self._check_access(env, "read")
        extra = list(domain or args or [])
        ids = self._search(env, extra)
        if name:
            ids = [i for i in ids if self._name_matches(env, i, name, operator)]
        ids = ids[:limit] if limit else ids
        return [[i, self._display_name(env, env.tx.get(self._name, i) or {"id": i})] for i in ids]

    def _name_matches(self, env: Env, rec_id: int, name: str, operator: str) -> bool:
        rec = env.tx.get(self._name, rec_id)
        return rec is not None and compare_values(self._display_name(env, rec), operator, name)

    @rpc_model
    def create(self, env: Env, vals_list: dict[str, Any] | list[dict[str, Any]]) -> int | list[int]:
        self._check_access(env, "create")
        single = isinstance(vals_list, dict)
        batch = [vals_list] if single else list(vals_list)
        ids = [self._create_record(env, dict(vals)) for vals in batch]
        self._after_create(env, ids)
        self._validate(env, ids)
        return ids[0] if single else ids

    @rpc
    def write(self, env: Env, ids: list[int], vals: dict[str, Any]) -> bool:
        self._check_access(env, "write")
        records = self._browse_for(env, ids, "write")
        cleaned = self._clean_vals(vals)
        self._before_write(env, records, cleaned)
        self._write_records(env, records, cleaned)
        self._after_write(env, ids, cleaned)
        self._validate(env, ids)
        return True

    @rpc
    def unlink(self, env: Env, ids: list[int]) -> bool:
        self._check_access(env, "unlink")
        records = self._browse_existing(env, ids)
        self._before_unlink(env, records)
        self._delete_records(env, [r["id"] for r in records])
        return True

    @rpc
    def exists(self, env: Env, ids: list[int]) -> list[int]:
        return [i for i in ids if self._exists(env, i)]

    @rpc
    def check_access_rule(self, env: Env, ids: list[int], operation: str) -> None:
        self._check_access(env, operation)

    @rpc_model
    def check_access_rights(self, env: Env, operation: str, raise_exception: bool = True) -> bool:
        try:
            self._check_access(env, operation)
        except AccessError:
            if raise_exception:
                raise
            return False
        return True


def get_public_method(model: Model, name: str) -> Callable[..., Any]:
    """The method a client may call, or Odoo's errors for private and unknown methods."""
    if name.startswith("_"):
        raise AccessError(f"Private methods (such as {name}) cannot be called remotely.")
    method = getattr(type(model), name, None)
    if method is None or not callable(method) or not hasattr(method, "_rpc"):
        raise AttributeError(f"The method '{name}' does not exist on the model '{model._name}'")
    return method
