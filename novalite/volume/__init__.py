"""Block storage (issue 14): the volume service (``novalite-volume``: its
manager, RPC API and backends) and the API side's volume operations
(``novalite.volume.api``), as Cinder's volume service and API."""
