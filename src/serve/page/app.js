// placeholder: the page helper replaces this (issue 18)
