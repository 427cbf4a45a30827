"""Step 6, the ways in: the `assistant` command (cli, batch, knowledge management, feedback) and the
web app (web/)."""
