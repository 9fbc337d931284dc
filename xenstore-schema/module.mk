# xenstore-schema: the declarative list of xenstore nodes, its validator
# and the guest-cooperation protocol.  No code yet.
