" nnc buffers: the layout of `nnc fmt` (docs/fmt.md) — 4-space indents, # comments — and
" :NncFmt, which formats the buffer with `nnc fmt` (docs/editors.md).
if exists("b:did_ftplugin")
  finish
endif
let b:did_ftplugin = 1

setlocal expandtab shiftwidth=4 softtabstop=4 tabstop=8 textwidth=100
setlocal comments=:# commentstring=#\ %s
setlocal suffixesadd=.nn

" :NncFmt writes the buffer, runs `nnc fmt` on the file and puts the result in the buffer
" (one undo step). If the file does not parse, the buffer is left alone and the
" diagnostics are shown. g:nnc_command names the compiler (default "nnc").
command! -buffer -bar NncFmt call s:NncFmt()

let b:undo_ftplugin = "setlocal expandtab< shiftwidth< softtabstop< tabstop< textwidth<"
      \ . " comments< commentstring< suffixesadd< | delcommand NncFmt"

if exists("*s:NncFmt")
  finish
endif

function! s:NncFmt() abort
  update
  let l:cmd = get(g:, 'nnc_command', 'nnc') . ' fmt ' . shellescape(expand('%:p'))
  let l:out = systemlist(l:cmd)
  if v:shell_error
    echohl ErrorMsg
    echo join(l:out, "\n")
    echohl None
    return
  endif
  if l:out ==# getline(1, '$')
    return
  endif
  let l:view = winsaveview()
  silent keepjumps %delete _
  call setline(1, l:out)
  call winrestview(l:view)
endfunction
