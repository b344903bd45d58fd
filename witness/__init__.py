"""A transparency-log witness (C2SP tlog-witness) and the offline checks around it.

Django-free and independent of the platform: standard library and ``cryptography`` only,
so a provider, a bureau or anyone else can run it on its own machine.

- :mod:`witness.notes` — signed notes, log signatures (Ed25519, 0x01) and cosignatures
  (cosignature/v1, 0x04), verifier keys;
- :mod:`witness.merkle` — RFC 9162 consistency and inclusion proof verification;
- :mod:`witness.state` — the witness's SQLite state, checked and updated atomically;
- :mod:`witness.server` — the HTTP ``add-checkpoint`` endpoint;
- :mod:`witness.policy` — C2SP tlog-policy files and quorum evaluation;
- :mod:`witness.proofs` — C2SP tlog-proof files and their offline verification;
- :mod:`witness.cli` — the ``yingdu-witness`` command.
"""
