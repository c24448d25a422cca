" *.nn files are nnc programs (docs/editors.md).
autocmd BufRead,BufNewFile *.nn setfiletype nnc
