/*
 * GET /openapi.json: the OpenAPI 3.1 description of the API (server/openapi.json), built
 * into the binary, so that every gateway serves the description of exactly the API it
 * runs, wherever its console files are. tests/api checks the file against a validator
 * and against this server's answers.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* The file's bytes between two symbols of the binary (the assembler's .incbin; make
 * runs the compiler from the project's root, where the path starts). */
__asm__(".section .rodata\n"
        ".global sockgate_openapi_json\n"
        ".hidden sockgate_openapi_json\n"
        "sockgate_openapi_json:\n"
        ".incbin \"server/openapi.json\"\n"
        ".global sockgate_openapi_json_end\n"
        ".hidden sockgate_openapi_json_end\n"
        "sockgate_openapi_json_end:\n"
        ".byte 0\n"
        ".previous\n");
extern const char sockgate_openapi_json[];
extern const char sockgate_openapi_json_end[];

enum MHD_Result openapi_serve(struct srv_req *r)
{
    size_t len = (size_t)(sockgate_openapi_json_end - sockgate_openapi_json);
    char *body = malloc(len);
    if (!body)
        return MHD_NO;
    memcpy(body, sockgate_openapi_json, len);
    return srv_reply(r, 200, body, len, NULL);
}
