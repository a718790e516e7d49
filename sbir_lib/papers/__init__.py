"""One module per paper: what the paper invents, read top to bottom like its method section."""
