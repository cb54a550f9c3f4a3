"""Run directories: checkpoints written aside and renamed into place (``checkpoint.py``,
``durable.py``), scheduler states as JSON (``serialization.py``), search spaces and run settings
from TOML / JSON / YAML files (``spacefile.py``)."""
