/*
 * Unit tests of the size arithmetic that answers are built with: an element whose size
 * would make a sum wrap (as a corrupted or hostile length could) must make rendering fail,
 * not allocate a small buffer and write past it; and eng_size_add/eng_size_mul saturate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "engine.h"
#include "render.h"

/* Under AddressSanitizer an allocation too large for any machine returns NULL, as malloc
 * does, rather than stop the test: the refusal is what is tested. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static void test_saturating_arithmetic(void **state)
{
    (void)state;
    assert_int_equal(eng_size_add(1, 2), 3);
    assert_true(eng_size_add(SIZE_MAX - 1, 2) == SIZE_MAX);
    assert_true(eng_size_add(SIZE_MAX, SIZE_MAX) == SIZE_MAX);
    assert_int_equal(eng_size_mul(6, 7), 42);
    assert_int_equal(eng_size_mul(0, SIZE_MAX), 0);
    assert_true(eng_size_mul(SIZE_MAX / 2 + 1, 2) == SIZE_MAX);
}

/* Lengths whose encoded sizes wrap the total: rendering refuses (NULL) rather than write
 * the element into a buffer sized by the wrapped sum. */
static void test_render_refuses_sizes_that_wrap(void **state)
{
    (void)state;
    static char byte[] = "x";
    const size_t lens[] = {SIZE_MAX / 3 + 1, SIZE_MAX / 2, SIZE_MAX - 4, SIZE_MAX};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (int is_data = 0; is_data < 2; is_data++) {
            struct eng_list l;
            memset(&l, 0, sizeof(l));
            l.cmd = ENG_CMD_RECV;
            l.items = l.inline_items;
            l.cap = ENG_LIST_INLINE;
            l.nitems = 3;
            l.items[0] = (struct eng_item){.bytes = (char *)"recv", .len = 4, .borrowed = true};
            l.items[1] = (struct eng_item){.bytes = (char *)"ok", .len = 2, .borrowed = true};
            l.items[2] = (struct eng_item){.bytes = byte, .len = lens[i], .is_data = is_data,
                                           .borrowed = true};
            size_t len = 0;
            assert_null(render_list(&l, CODEC_ASCIIHEX, &len));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saturating_arithmetic),
        cmocka_unit_test(test_render_refuses_sizes_that_wrap),
    };
    return cmocka_run_group_tests_name("render_sizes", tests, NULL, NULL);
}
