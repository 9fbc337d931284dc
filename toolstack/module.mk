# toolstack: libxengpu and the xengpu command.  No code yet; the command
# skeleton arrives with the discovery work (issue 3).
