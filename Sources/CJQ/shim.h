#ifndef SWIFT_OCEAN_CJQ_SHIM_H
#define SWIFT_OCEAN_CJQ_SHIM_H

#include <stdio.h>
#include <jq.h>
#include <jv.h>

/// `jv_is_valid` is a static function in jv.h; re-exported under a name Swift imports reliably.
static inline int swift_ocean_jv_is_valid(jv value) {
    return jv_get_kind(value) != JV_KIND_INVALID;
}

#endif
