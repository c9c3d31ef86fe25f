"""One module per PSA, each a `Connector` (base.py); `connector_class` finds it by kind."""

from django.utils.module_loading import import_string

from .base import Connector

CONNECTORS = {
    "connectwise": "psasync.connectors.connectwise.ConnectWiseConnector",
    "autotask": "psasync.connectors.autotask.AutotaskConnector",
    "halopsa": "psasync.connectors.halopsa.HaloPsaConnector",
    "syncro": "psasync.connectors.syncro.SyncroConnector",
}


def connector_class(kind: str) -> type[Connector]:
    try:
        return import_string(CONNECTORS[kind])
    except KeyError:
        raise ValueError(f"unknown PSA kind {kind!r}") from None
