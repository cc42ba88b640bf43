#include <check.h>
#include "protocol/scan.h"
START_TEST(placeholder)
{
    ck_assert_int_eq(proto_scan_mode_bpp(PROTO_SCAN_MODE_COLOR24), 24);
}
END_TEST
int main(void)
{
    Suite *s = suite_create("proto_scan");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, placeholder);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
