"""The designer as a web page, for people who never open a notebook: one flow file, saved."""
