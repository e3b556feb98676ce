"""``manage.py b2b_codes show | deactivate``: one enrollment code at a time.

``show CODE`` says everything about a code (status, products, contract, redemptions);
``deactivate CODE...`` takes leaked codes out of use, all or none (refused for a redeemed code).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from b2b.services.code_operations import code_describe, codes_deactivate
from b2b.services.codes import codes_adjustment_hint
from main.commands import DomainCommand, add_format_argument, table_render


class Command(DomainCommand):
    help = "Show one enrollment code, or deactivate leaked ones."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = self.add_subcommands(parser)
        show = sub.add_parser("show", help="Everything about one code.")
        show.add_argument("code", help="The code (case and surrounding spaces do not matter).")
        add_format_argument(show, choices=("table", "json"))
        show.set_defaults(handler=self.show)

        deactivate = sub.add_parser(
            "deactivate", help="Take codes out of use (all or none; redeemed codes are refused)."
        )
        deactivate.add_argument("codes", nargs="+", metavar="CODE")
        add_format_argument(deactivate, choices=("table", "json"))
        deactivate.set_defaults(handler=self.deactivate)

    def show(self, *, code: str, format: str, **_: Any) -> None:
        info = code_describe(code)
        if format == "json":
            self.emit_json(info)
            return
        rows = [
            [key, "" if info[key] is None else str(info[key])]
            for key in (
                "status",
                "redemption_type",
                "discount_type",
                "amount",
                "payment_type",
                "is_bulk",
                "activation",
                "expiration",
                "created_on",
                "updated_on",
            )
        ]
        for product in info["products"]:
            rows.append(
                [
                    "product",
                    f"{product['product_id']}: {product['product']} (run {product['run']}; "
                    f"contract {product['contract_id']} {product['contract'] or '-'}; "
                    f"{'on sale' if product['product_active'] else 'off sale'})",
                ]
            )
        for r in info["redemptions"]:
            rows.append(
                [
                    "redeemed",
                    f"by {r['user']} (user {r['user_id']}) on {r['date']}, "
                    + (
                        f"order {r['order_id']} ({r['order_state']})"
                        if r["order_id"]
                        else "to join the contract"
                    ),
                ]
            )
        if not info["redemptions"]:
            rows.append(["redeemed", "never"])
        self.stdout.write(
            table_render(
                rows,
                headers=("field", "value"),
                title=f"Enrollment code {info['code']}",
                show_header=False,
            ),
            ending="",
        )

    def deactivate(self, *, codes: list[str], format: str, **_: Any) -> None:
        result = codes_deactivate(codes)
        if format == "json":
            self.emit_json(
                {
                    "deactivated": [c for c, o in result.outcomes.items() if o == "deactivated"],
                    "already_deactivated": [
                        c for c, o in result.outcomes.items() if o == "already-deactivated"
                    ],
                    "contracts": result.contract_ids,
                }
            )
        else:
            for code, outcome in result.outcomes.items():
                self.stdout.write(f"{code}: {outcome.replace('-', ' ')}")
        if result.deactivated:
            for contract_id in result.contract_ids:
                self.hint(
                    f"Contract {contract_id}: codes re-adjusted (a capped contract gets a fresh "
                    "code for each one taken out). " + codes_adjustment_hint(contract_id)
                )
