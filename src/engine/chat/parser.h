// Recursive-descent parser for the Jinja2 language subset used by chat templates. Operator
// precedence and the placement of filters and tests follow Jinja2's own parser.
#pragma once

#include <vector>

#include "engine/chat/ast.h"
#include "engine/chat/lexer.h"

namespace hearth::chat {

// Throws TemplateError (with the line) on syntax errors or nesting beyond max_depth.
StmtList parse_template(const std::vector<Token>& tokens, int max_depth);

}  // namespace hearth::chat
