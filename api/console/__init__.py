"""The staff console (``/console``): server-rendered pages for the people who handle complaints."""
