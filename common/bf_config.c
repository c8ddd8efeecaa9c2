#include "bf_config.h"

#include <errno.h>
#include <stdlib.h>

const bf_config_row_t bf_config_table[BF_CONFIG_COUNT] = {
#define BF_CONFIG_TABLE_ROW(id, var, def, doc) [BF_CONFIG_##id] = {var, def, doc},
    BF_CONFIG_MAP(BF_CONFIG_TABLE_ROW)
#undef BF_CONFIG_TABLE_ROW
};

const char *bf_config_get(bf_config_id_t id)
{
    const char *value = getenv(bf_config_table[id].variable);

    return (value != NULL && value[0] != '\0') ? value : bf_config_table[id].default_value;
}

int bf_config_parse_size(const char *text, size_t *size_p)
{
    char *end;
    unsigned long long value;

    errno = 0;
    value = strtoull(text, &end, 0);
    if (errno != 0 || end == text)
        return -1;
    switch (*end) {
    case 'T': case 't': value <<= 10; /* fall through */
    case 'G': case 'g': value <<= 10; /* fall through */
    case 'M': case 'm': value <<= 10; /* fall through */
    case 'K': case 'k': value <<= 10; end++; break;
    case '\0': break;
    default: return -1;
    }
    if (*end == 'i' || *end == 'B')  /* accept 4GiB / 4GB spellings */
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end != '\0')
        return -1;
    *size_p = (size_t)value;
    return 0;
}

long bf_config_get_long(bf_config_id_t id)
{
    const char *text = bf_config_get(id);
    char *end;
    long value = strtol(text, &end, 10);

    if (end == text || *end != '\0' || value < 0)
        value = strtol(bf_config_table[id].default_value, NULL, 10);
    return value;
}
