from datetime import date

import pytest

from dagster_project.cli import _months_from_args, build_parser
from dagster_project.lib.months import month_end, month_range, parse_month


def test_the_as_of_day_is_the_last_day_of_the_month() -> None:
    assert month_end(date(1997, 9, 1)) == date(1997, 9, 30)
    assert month_end(date(2024, 2, 1)) == date(2024, 2, 29)
    assert month_end(date(1999, 12, 1)) == date(1999, 12, 31)


def test_a_range_of_months_crosses_years_and_reaches_back_to_the_nineties() -> None:
    months = month_range(parse_month("1990-11"), parse_month("1991-02"))
    assert months == [date(1990, 11, 1), date(1990, 12, 1), date(1991, 1, 1), date(1991, 2, 1)]


@pytest.mark.parametrize("bad", ["2024-13", "24-1x", "", "next month"])
def test_a_bad_month_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="month"):
        parse_month(bad)


def test_cli_month_arguments() -> None:
    parser = build_parser()
    assert _months_from_args(parser.parse_args(["run", "--month", "2025-03"])) == [date(2025, 3, 1)]
    assert len(_months_from_args(parser.parse_args(["run", "--last", "12"]))) == 12
    span = _months_from_args(parser.parse_args(["run", "--from", "1995-01", "--to", "1995-06"]))
    assert span[0] == date(1995, 1, 1) and span[-1] == date(1995, 6, 1) and len(span) == 6
    with pytest.raises(ValueError, match="one of"):
        _months_from_args(parser.parse_args(["run", "--month", "2025-03", "--last", "2"]))
