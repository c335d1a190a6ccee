"""The rulebook language: what a data team writes, validated once at load.

- `model`: the `followup/v1` rulebook (fit, engagement, windows, accounts, champions).
- `conditions` and `operators`: the declarative `when:` vocabulary (no code runs from it).
- `cadence`: the `cadence:` section (spacing, caps, channels, pauses, send times).
- `templates`: draft copy per play, rendered in a placeholder-only sandbox.
- `loader`: YAML to a validated `Rulebook`, errors located by file, line and field.

Nothing here keeps state or looks at a clock: `rules.core` reads these models.
"""
