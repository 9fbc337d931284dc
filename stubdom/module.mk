# stubdom: device-model stub domain for GPU guests.  No code yet.
