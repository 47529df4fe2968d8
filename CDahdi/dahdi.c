#include "CDahdi.h"
