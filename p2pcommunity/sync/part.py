"""The base of the service's parts (`service.knowledge`, `service.pages`, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from p2pcommunity.sync.service import Service


class ServicePart:
    """A group of commands that acts for, and through, the service that holds it:
    composition in place of the mixins `Service` once inherited."""

    def __init__(self, service: Service) -> None:
        self.service = service
