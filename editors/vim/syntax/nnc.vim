" Vim syntax file
" Language:    nnc (docs/language.md), files *.nn
" Maintainer:  the nnc project; installation in docs/editors.md
"
" Groups are named nncSomething and linked to the standard highlight groups at the end;
" tests/fmt/vim_test.sh checks the group vim gives each token of a sample.

if exists("b:current_syntax")
  finish
endif
let s:cpo_save = &cpo
set cpo&vim

syn keyword nncConditional if else
syn keyword nncRepeat      for while in
syn keyword nncStatement   return break continue
syn keyword nncDeclare     param state
syn keyword nncInclude     import
syn keyword nncKeyword     train let
syn keyword nncLogical     and or not
syn keyword nncBoolean     true false
syn keyword nncType        f32 i32 int float bool string

" fn/layer/model/optimizer NAME: the name is a function.
syn keyword nncDefine      fn layer model optimizer nextgroup=nncFunction skipwhite
syn match   nncFunction    "\h\w*" contained

" After '.', every name is a member, keywords too (net.train()). The match starts at the
" '.', before the keyword, so it wins; '..' and '...' are not member accesses.
syn match   nncMember      "\.\@1<!\.\s*\h\w*"hs=s+1

" Operators. Block comments are defined after them, so "/*" starts a comment.
syn match   nncOperator    "->\|\.\.\.\=\|[-+*/%@^=<>!]=\=\|=="

" Numbers (§2.4): 42, 1_000, 0xff; 1.5, 1e-3, 2.5E+4. Floats are defined last so they win
" where both match; "0..n" is an integer and a range.
syn match   nncNumber      "\<\d\%(_\=\d\)*\>"
syn match   nncNumber      "\<0[xX]\x\%(_\=\x\)*\>"
syn match   nncFloat       "\<\d\%(_\=\d\)*\.\d\%(_\=\d\)*\%([eE][-+]\=\d\%(_\=\d\)*\)\=\>"
syn match   nncFloat       "\<\d\%(_\=\d\)*[eE][-+]\=\d\%(_\=\d\)*\>"

" Strings are on one line, with the escapes \n \t \\ \" \0.
syn region  nncString      start=+"+ skip=+\\\\\|\\"+ end=+"+ end=+$+ oneline contains=nncEscape,nncEscapeError
syn match   nncEscapeError "\\." contained
syn match   nncEscape      +\\[nt\\"0]+ contained

syn keyword nncTodo        TODO FIXME XXX NOTE contained
syn match   nncComment     "#.*$" contains=nncTodo,@Spell
syn region  nncCommentBlock start="/\*" end="\*/" contains=nncTodo,@Spell

syn sync ccomment nncCommentBlock

hi def link nncConditional  Conditional
hi def link nncRepeat       Repeat
hi def link nncStatement    Statement
hi def link nncDeclare      StorageClass
hi def link nncInclude      Include
hi def link nncKeyword      Keyword
hi def link nncLogical      Operator
hi def link nncBoolean      Boolean
hi def link nncType         Type
hi def link nncDefine       Define
hi def link nncFunction     Function
hi def link nncOperator     Operator
hi def link nncNumber       Number
hi def link nncFloat        Float
hi def link nncString       String
hi def link nncEscape       SpecialChar
hi def link nncEscapeError  Error
hi def link nncTodo         Todo
hi def link nncComment      Comment
hi def link nncCommentBlock Comment

let b:current_syntax = "nnc"
let &cpo = s:cpo_save
unlet s:cpo_save
