"""One module per page of the app: ``render()`` draws the page; the file is also its script."""
