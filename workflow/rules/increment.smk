# Rules of the increment stage.
