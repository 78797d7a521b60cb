"""The daemon side of the bridge: the socket loop (`server`), what it admits (`admission`) and how it replies
(`sending`), the request checks (`validation`), the one inference `worker`, the `models` it owns and the thin op
`handlers` that call chromaseg.core.

Nothing here travels into an editor: the client modules beside this package are standard library only, and the
dependency rule (plugins -> bridge client; bridge.daemon -> core) is checked by tests/test_architecture.py.
"""
