# migrate: save/restore and migration with unplug/replug.  No code yet.
