"""The HTTP ingest (`followup ingest`): plan (pure), server (aiohttp handlers), run."""
