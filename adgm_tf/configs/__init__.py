"""Experiment configs: each module's `get_config()` returns an `ml_collections.ConfigDict`;
`checks` refuses impossible configs and workdirs that hold another run."""
