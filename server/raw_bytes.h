/*
 * Raw bytes for curl users (SPEC §3): a send or sendto whose body is
 * application/octet-stream sends the body as it is, its arguments from the query; a recv
 * or recvfrom that accepts application/octet-stream gets the received bytes as the body,
 * with the sender in X-Sockgate-Address and X-Sockgate-Port for recvfrom. Any answer that
 * is not ok stays the usual JSON list, and nothing else changes.
 */
#ifndef SOCKGATE_RAW_BYTES_H
#define SOCKGATE_RAW_BYTES_H

#include <stdbool.h>

#include "server.h"

/* True when r is a send or sendto whose body is the bytes themselves. */
bool raw_body(struct srv_req *r, enum eng_cmd cmd);

/* True when r is a recv or recvfrom that asks for its bytes as the answer. */
bool raw_answer_wanted(struct srv_req *r, enum eng_cmd cmd);

/* Queues an ok receive answer as its bytes (application/octet-stream). Consumes list;
 * its bytes go back to the socket if the answer is not delivered whole. */
enum MHD_Result raw_reply(struct srv_req *r, struct eng_list *list);

#endif
