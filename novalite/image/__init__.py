"""The image store: image records in the database, files in state_path."""
