/* cifar_gen.c — writes a CIFAR-10-format folder for tests and benchmarks (the real data set is not
 * packaged): cifar_gen DIR RECORDS [TEST_RECORDS] writes DIR/data_batch_1.bin .. data_batch_5.bin
 * with RECORDS records each and DIR/test_batch.bin with TEST_RECORDS (default RECORDS). A record is
 * a label byte then 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each 32 x 32 row-major).
 * Images are learnable: each class has its own colour and a bright square at its own place, under
 * deterministic noise (the same files every time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD 3073

static int write_batch(const char *dir, const char *name, long records, unsigned long long *state) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        return 0;
    }
    unsigned char rec[RECORD];
    for (long i = 0; i < records; i++) {
        *state = *state * 6364136223846793005ULL + 1442695040888963407ULL; /* PCG's LCG step */
        int label = (int)((*state >> 33) % 10);
        rec[0] = (unsigned char)label;
        int sq_y = (label / 5) * 16 + 4, sq_x = (label % 5) * 6 + 1; /* the class's 6 x 6 square */
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
                    int v = 30 + 15 * ((label + 3 * c) % 10) + (int)((*state >> 40) % 60);
                    if (y >= sq_y && y < sq_y + 6 && x >= sq_x && x < sq_x + 6) v += 80;
                    rec[1 + c * 1024 + y * 32 + x] = (unsigned char)(v > 255 ? 255 : v);
                }
        if (fwrite(rec, 1, RECORD, fp) != RECORD) {
            perror(path);
            fclose(fp);
            return 0;
        }
    }
    if (fclose(fp) != 0) {
        perror(path);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: cifar_gen DIR RECORDS [TEST_RECORDS]\n");
        return 2;
    }
    long records = strtol(argv[2], NULL, 10), test_records = argc > 3 ? strtol(argv[3], NULL, 10) : records;
    if (records < 0 || test_records < 0) {
        fprintf(stderr, "cifar_gen: record counts must be >= 0\n");
        return 2;
    }
    unsigned long long state = 42;
    char name[32];
    for (int k = 1; k <= 5; k++) {
        snprintf(name, sizeof name, "data_batch_%d.bin", k);
        if (!write_batch(argv[1], name, records, &state)) return 1;
    }
    return write_batch(argv[1], "test_batch.bin", test_records, &state) ? 0 : 1;
}
