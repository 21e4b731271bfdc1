"""newsbot's application: settings, the command line, and the Discord layer."""
