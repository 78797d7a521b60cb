"""The bridge between editors and models. The modules here are the client side, standard library only (they are
copied into the editors' plugin folders): `client` (the one import plugins use), `jobs`, `errors`, `transports`,
`zmtp`, `launcher` (the one way a daemon is started), and the wire both sides share: `contract`, `protocol`,
`endpoint`. The daemon is the `daemon` subpackage, which never travels into an editor."""
