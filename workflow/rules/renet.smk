# Rules of the renet stage.
