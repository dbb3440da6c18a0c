# Rules of the memory stage.
