/* strings: builds a text of N pseudo-random words (syllables from a small
 * alphabet, Zipf-like choice), tokenises it with strtok-free scanning,
 * counts word frequencies in a chained hash table (strcmp on collisions),
 * counts strstr matches of a few patterns, sorts the distinct words with
 * qsort/strcmp and prints counts and an FNV checksum of "word count" lines.
 * Default N = 1500000. */
#include "common.h"

static const char *syl[16] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo",
                              "ba", "de", "fi", "go", "hu", "je", "pa", "zu"};

typedef struct entry { struct entry *next; char *word; long count; } entry;

static uint32_t strhash(const char *s) {
    uint32_t h = 2166136261u;
    while (*s) { h ^= (uint8_t)*s++; h *= 16777619u; }
    return h;
}

static int cmp_entry(const void *a, const void *b) {
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 1500000);
    size_t cap = (size_t)n * 13 + 1;
    char *text = malloc(cap);
    if (!text) { fprintf(stderr, "out of memory\n"); return 1; }
    size_t len = 0;
    uint64_t s = 99;
    for (long i = 0; i < n; i++) {
        uint64_t r = rng_next(&s);
        int nsyl = 1 + (int)(r % 3) + (int)((r >> 2) % 2 == 0 && (r >> 3) % 4 == 0);
        r >>= 8;
        for (int k = 0; k < nsyl; k++) {
            /* skewed choice: small indices more likely */
            unsigned idx = (unsigned)((r & 15) * ((r >> 4) & 15)) >> 4;
            r >>= 8;
            memcpy(text + len, syl[idx], 2);
            len += 2;
        }
        text[len++] = (i % 17 == 16) ? '\n' : ' ';
    }
    text[len] = 0;

    size_t nb = 4096;
    entry **tab = calloc(nb, sizeof *tab);
    long distinct = 0, words = 0;
    char word[64];
    for (size_t p = 0; p < len;) {
        while (p < len && (text[p] == ' ' || text[p] == '\n')) p++;
        size_t q = p;
        while (q < len && text[q] != ' ' && text[q] != '\n') q++;
        if (q == p) break;
        size_t wl = q - p < 63 ? q - p : 63;
        memcpy(word, text + p, wl);
        word[wl] = 0;
        p = q;
        words++;
        uint32_t h = strhash(word) & (uint32_t)(nb - 1);
        entry *e = tab[h];
        while (e && strcmp(e->word, word) != 0) e = e->next;
        if (!e) {
            e = malloc(sizeof *e);
            e->word = strdup(word);
            e->count = 0;
            e->next = tab[h];
            tab[h] = e;
            distinct++;
        }
        e->count++;
    }

    static const char *pats[4] = {"kaka", "lomi ne", "jeje", "\nka"};
    long hits[4] = {0};
    for (int k = 0; k < 4; k++)
        for (const char *p = text; (p = strstr(p, pats[k])) != NULL; p++) hits[k]++;

    entry **all = malloc(sizeof *all * (size_t)distinct);
    long m = 0;
    for (size_t i = 0; i < nb; i++)
        for (entry *e = tab[i]; e; e = e->next) all[m++] = e;
    qsort(all, (size_t)m, sizeof *all, cmp_entry);
    uint64_t h = MIX_INIT;
    char line[96];
    for (long i = 0; i < m; i++) {
        int l = snprintf(line, sizeof line, "%s %ld\n", all[i]->word, all[i]->count);
        for (int k = 0; k < l; k++) { h ^= (uint8_t)line[k]; h *= 0x100000001B3ULL; }
    }
    printf("strings n=%ld words=%ld distinct=%ld top=%s:%ld hits=%ld,%ld,%ld,%ld checksum=%016llx\n", n, words,
           distinct, all[0]->word, all[0]->count, hits[0], hits[1], hits[2], hits[3], (unsigned long long)h);
    return 0;
}
