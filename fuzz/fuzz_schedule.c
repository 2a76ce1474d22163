/* fuzz_schedule.c — libFuzzer harness for the learning-rate schedule parser, curvo_schedule_parse
 * (it also reads the "train.schedule" string of checkpoints, so its input may come from a file).
 *
 * The input, copied into a NUL-terminated string, is parsed; a schedule that parses must pass
 * curvo_schedule_check, format to a canonical spec that parses back to the same canonical spec, and
 * give finite factors >= 0 at a spread of steps and epoch lengths; a refused one must leave a
 * NUL-terminated message and the output untouched. Seeds: fuzz/corpus/schedule.
 * Build and run: fuzz/run.sh (CMake option CURVO_FUZZ=ON with clang). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "curvo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *spec = malloc(size + 1);
    if (!spec) return 0;
    if (size) memcpy(spec, data, size);
    spec[size] = '\0';

    curvo_schedule s, back, untouched;
    curvo_schedule_init(&s);
    untouched = s;
    char err[CURVO_ERRMSG_LEN], canon[2048], again[2048];
    if (curvo_schedule_parse(spec, &s, err) == CURVO_OK) {
        if (curvo_schedule_check(&s, NULL) != CURVO_OK) abort();
        if (curvo_schedule_format(&s, canon, sizeof canon) != CURVO_OK) abort();
        if (curvo_schedule_parse(canon, &back, err) != CURVO_OK) abort();
        if (curvo_schedule_format(&back, again, sizeof again) != CURVO_OK || strcmp(canon, again)) abort();
        static const int64_t steps[] = {0, 1, 2, 7, 99, 1000, 123456789, INT64_MAX / 2};
        static const int64_t epochs[] = {1, 3, 1000};
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
            for (size_t j = 0; j < sizeof epochs / sizeof epochs[0]; j++) {
                double f = curvo_schedule_factor(&s, steps[i], epochs[j]);
                if (!(f >= 0.0) || !isfinite(f)) abort();
            }
    } else {
        if (!memchr(err, '\0', sizeof err)) abort();
        if (memcmp(&s, &untouched, sizeof s)) abort(); /* documented: nothing written on failure */
    }
    free(spec);
    return 0;
}
