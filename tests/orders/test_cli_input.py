"""What a buyer types on the command line for order lines and answers: mistakes are one clear
line (click's usage error), never a traceback."""

from decimal import Decimal

import click
import pytest

from orderchat.cli.orders import parse_answer, parse_line


def test_a_line_is_read_with_its_numbers():
    line = parse_line("id=7,sku=PEN-R,desc=red pen,qty=50,price=1.20,date=2026-12-01", 1)
    assert (line.line_id, line.sku, line.quantity, line.unit_price) == ("7", "PEN-R", Decimal("50"), Decimal("1.20"))
    assert str(line.requested_date) == "2026-12-01"


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("id=1,sku=X,qty=abc", "qty='abc' is not a number"),
        ("id=1,sku=X,qty=2,price=abc", "price='abc' is not a number"),
        ("sku=X qty=2", "separate key=value pairs with ','"),
        ("sku=X", "needs qty"),
        ("qty=2", "needs sku"),
        ("sku=X,qty=-5", "qty"),
        ("sku=X,qty=2,date=tomorrow", "date"),
    ],
)
def test_a_mistyped_line_is_a_usage_error_that_names_the_field(spec, says):
    with pytest.raises(click.BadParameter) as caught:
        parse_line(spec, 1)
    assert says in caught.value.message


def test_a_change_answer_with_a_non_number_is_a_usage_error():
    with pytest.raises(click.BadParameter, match="qty='many' is not a number"):
        parse_answer("1=change:qty=many")
    assert parse_answer("1=change:qty=30;price=0.9").change.quantity == Decimal("30")
