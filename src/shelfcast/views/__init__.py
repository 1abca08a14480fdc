"""What the command line and the seed's scripts print: consoles, tables that fit the terminal,
the progress display, and renderings of the application layer's results (`lifecycle`).

Nothing here parses options or does any work: it draws results it is given.
"""
