/*
 * The operators of the JSL parser (see jsl_parser.h), with JSL's precedence as JMP's
 * Scripting Guide lists it, from the loosest:
 *
 *     ;                    glue (web/jsl_parser.c)
 *     = += -= *= /= ||=    assignment, right to left: a = b = 1
 *     |                    or
 *     &                    and
 *     == != < <= > >=      comparisons, which do not chain here (see below)
 *     <<                   send a message, left to right: a << b << c is (a << b) << c
 *     ||                   concatenation
 *     + -                  addition, subtraction
 *     * /                  multiplication, division
 *     - ! ++ --            prefix: negation, not, increment, decrement
 *     x[i] x++ x--         subscripts and postfix ++/-- (web/jsl_parser.c)
 *
 * Binary operators are left-associative and read by precedence climbing: one loop per
 * level of nesting, not one function per level, so that the recursion (and the stack)
 * grows only with brackets and prefix operators.
 */
#include "jsl_internal.h"

enum prec {
    PREC_NONE,
    PREC_OR,
    PREC_AND,
    PREC_COMPARE,
    PREC_SEND,
    PREC_CONCAT,
    PREC_ADD,
    PREC_MUL,
};

static enum prec binary_prec(enum jsli_tok t)
{
    switch (t) {
    case JSLI_TOK_OR: return PREC_OR;
    case JSLI_TOK_AND: return PREC_AND;
    case JSLI_TOK_EQ: case JSLI_TOK_NE: case JSLI_TOK_LT: case JSLI_TOK_LE:
    case JSLI_TOK_GT: case JSLI_TOK_GE: return PREC_COMPARE;
    case JSLI_TOK_SEND: return PREC_SEND;
    case JSLI_TOK_CONCAT: return PREC_CONCAT;
    case JSLI_TOK_PLUS: case JSLI_TOK_MINUS: return PREC_ADD;
    case JSLI_TOK_STAR: case JSLI_TOK_SLASH: return PREC_MUL;
    default: return PREC_NONE;
    }
}

static int is_assignment(enum jsli_tok t)
{
    return t == JSLI_TOK_ASSIGN || t == JSLI_TOK_ADD_TO || t == JSLI_TOK_SUB_TO ||
           t == JSLI_TOK_MUL_TO || t == JSLI_TOK_DIV_TO || t == JSLI_TOK_CONCAT_TO;
}

static uint32_t max_height(const struct jsli_parser *p, uint32_t a, uint32_t b)
{
    uint32_t ha = jsli_node_at(p, a)->height, hb = jsli_node_at(p, b)->height;

    return ha > hb ? ha : hb;
}

static uint32_t parse_binary(struct jsli_parser *p, enum prec min);

/* A prefix operator and its operand, or a postfix expression. */
static uint32_t parse_unary(struct jsli_parser *p)
{
    enum jsli_tok op = p->tok.type;
    int incdec = op == JSLI_TOK_INC || op == JSLI_TOK_DEC;
    size_t op_pos = p->tok.pos;
    uint32_t node, operand;

    if (op != JSLI_TOK_MINUS && op != JSLI_TOK_NOT && !incdec)
        return jsli_parse_postfix(p);
    if (!jsli_enter(p))
        return 0;
    node = jsli_new_node(p, incdec ? JSLI_KIND_INCDEC : JSLI_KIND_UNARY, p->tok_loc);
    jsli_advance(p);
    operand = node && !p->failed ? parse_unary(p) : 0;
    jsli_leave(p);
    if (!operand)
        return 0;
    if (incdec && !jsli_assignable(p, operand)) {
        jsli_fail(p, op_pos, "only a name or a subscript can take '%s'", jsli_tok_text[op]);
        return 0;
    }
    jsli_node_at(p, node)->op = (uint8_t)op;
    jsli_node_at(p, node)->a = operand;
    if (incdec)
        jsli_node_at(p, node)->flags |= JSLI_FLAG_PREFIX;
    return jsli_finish(p, node, jsli_node_at(p, operand)->height);
}

/*
 * What follows `<<`: a message name with its arguments, `recv(100)`, or without
 * parentheses, `close`; or `<<x`, which stands for the message Send(x). The message is
 * only that: an operator after it applies to the answer (s << m || x is (s << m) || x).
 */
static uint32_t parse_message(struct jsli_parser *p)
{
    uint32_t msg, arg;

    if (p->tok.type == JSLI_TOK_SEND) {
        msg = jsli_new_node(p, JSLI_KIND_CALL, p->tok_loc);
        jsli_advance(p);
        arg = msg && !p->failed ? parse_binary(p, PREC_CONCAT) : 0;
        if (!arg)
            return 0;
        jsli_node_at(p, msg)->flags |= JSLI_FLAG_SUGAR;
        jsli_node_at(p, msg)->a = arg;
        return jsli_finish(p, msg, jsli_node_at(p, arg)->height);
    }
    if (p->tok.type != JSLI_TOK_NAME && p->tok.type != JSLI_TOK_QNAME) {
        jsli_expected(p, "a message after '<<'");
        return 0;
    }
    msg = jsli_token_node(p, JSLI_KIND_CALL);
    if (!msg)
        return 0;
    if (p->tok.type == JSLI_TOK_LPAREN) {
        arg = jsli_parse_args(p);
        if (p->failed)
            return 0;
        jsli_node_at(p, msg)->a = arg;
        msg = jsli_finish(p, msg, jsli_list_height(p, arg));
    } else {
        jsli_node_at(p, msg)->flags |= JSLI_FLAG_BARE;
    }
    if (msg && p->tok.type == JSLI_TOK_LBRACK) {
        jsli_fail(p, p->tok.pos, "subscript the answer of a message in parentheses: "
                  "(x << message)[i]");
        return 0;
    }
    return msg;
}

/*
 * Operands joined by binary operators of precedence `min` or tighter. JMP reads a chain
 * of comparisons (a < b < c, a == b == c) as a range or an all-equal test, which the
 * console does not run: rather than give it another meaning, it is an error.
 */
static uint32_t parse_binary(struct jsli_parser *p, enum prec min)
{
    uint32_t left = parse_unary(p);
    enum prec last = PREC_NONE;

    while (left) {
        enum jsli_tok op = p->tok.type;
        enum prec prec = binary_prec(op);
        uint32_t node, right;

        if (prec == PREC_NONE || prec < min)
            break;
        if (prec == PREC_COMPARE && last == PREC_COMPARE) {
            jsli_fail(p, p->tok.pos, "comparisons do not chain (JMP reads a < b < c as a "
                      "range check): add parentheses");
            return 0;
        }
        last = prec;
        node = jsli_node_from(p, op == JSLI_TOK_SEND ? JSLI_KIND_SEND : JSLI_KIND_BINARY, left);
        jsli_advance(p);
        if (!node || p->failed)
            return 0;
        right = op == JSLI_TOK_SEND ? parse_message(p) : parse_binary(p, prec + 1);
        if (!right)
            return 0;
        jsli_node_at(p, node)->op = (uint8_t)op;
        jsli_node_at(p, node)->a = left;
        jsli_node_at(p, node)->b = right;
        left = jsli_finish(p, node, max_height(p, left, right));
    }
    return p->failed ? 0 : left;
}

uint32_t jsli_parse_expr(struct jsli_parser *p)
{
    uint32_t target, node, value;
    enum jsli_tok op;

    if (p->failed || !jsli_enter(p))
        return 0;
    target = parse_binary(p, PREC_OR);
    op = p->tok.type;
    if (target && is_assignment(op)) {
        if (!jsli_assignable(p, target)) {
            jsli_fail(p, p->tok.pos, "only a name or a subscript can be assigned to");
            target = 0;
        } else {
            node = jsli_node_from(p, JSLI_KIND_ASSIGN, target);
            jsli_advance(p);
            value = node && !p->failed ? jsli_parse_expr(p) : 0;
            if (value) {
                jsli_node_at(p, node)->op = (uint8_t)op;
                jsli_node_at(p, node)->a = target;
                jsli_node_at(p, node)->b = value;
                target = jsli_finish(p, node, max_height(p, target, value));
            } else {
                target = 0;
            }
        }
    }
    jsli_leave(p);
    return p->failed ? 0 : target;
}
