"""DAILY_WAREHOUSE_REPORT: the day's warehouse figures with a narrative."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from langgraph.graph import StateGraph
from pydantic import BaseModel

from phi_agent_config.data_contract import WAREHOUSE
from phi_orchestrator.workflows.base import Workflow
from phi_orchestrator.workflows.daily_warehouse_report.graph import build_graph
from phi_orchestrator.workflows.daily_warehouse_report.schemas import DailyWarehouseReportInput
from phi_orchestrator.workflows.registry import register
from phi_service.errors import InvalidInput


@register
class DailyWarehouseReport(Workflow):
    type = "DAILY_WAREHOUSE_REPORT"
    description = (
        "Throughput by hour, zone and picker against the previous day and the 7-day mean, late "
        "orders, idle docks and outliers, with a narrative"
    )
    input_model = DailyWarehouseReportInput
    data_contract = WAREHOUSE

    def prepare(self, data: BaseModel, today: date) -> dict[str, Any]:
        params = data.model_dump(mode="json")
        params["day"] = params["day"] or (today - timedelta(days=1)).isoformat()
        latest = today + timedelta(days=1)
        if date.fromisoformat(params["day"]) > latest:
            raise InvalidInput(
                f"invalid input for {self.type}: input.day: {params['day']} is in the future; "
                f"give a day up to {latest.isoformat()} (tomorrow in the org's time zone)"
            )
        return params

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        return build_graph()
