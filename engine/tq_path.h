/* tq_path.h - "DIR/NAME" made once, for the modules that build paths from a folder and
 * a name they chose (report names, worklist files, a database's files). */
#ifndef TQ_PATH_H
#define TQ_PATH_H

/* tq_path_join() - a new string "dir/name" (malloc'd: the caller frees it).  Names are
 * joined as they are: no check for '/' or "..", which the callers' names never hold.
 * @return the path, or NULL out of memory.  Any thread. */
char *tq_path_join(const char *dir, const char *name);

#endif
