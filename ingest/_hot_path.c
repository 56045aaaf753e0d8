/* The compiled fast path of `log_metric` (see ingest/hot_path.py, which documents the semantics).
 *
 * A MetricLogger holds what the Python closure holds (the run's flat rows, its key -> slot table,
 * the row limit) plus that closure itself. A call it can take whole (a str key this run has seen,
 * a float, an int or a numpy scalar of `FAST_NUMBER_TYPES`, no step or an exact int step, no dt,
 * no extras, room in the buffer) appends `slot, value, step, dt_ns` to the rows here; every other
 * call is handed to the
 * Python closure unchanged, so the two paths cannot disagree on anything but speed.
 *
 * The four appends hold the GIL throughout and run no Python code (no object they allocate is
 * tracked by the garbage collector), so a drain in another thread never sees half a row, as with
 * the closure's one `extend`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <time.h>

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *rows;     /* list: the buffer's flat scalar rows */
    PyObject *codes;    /* dict: key -> slot */
    Py_ssize_t limit;   /* len(rows) at which the closure must apply back-pressure */
    PyObject *fallback; /* the Python closure: every call not taken here */
    PyObject *numbers;  /* frozenset: the other value types converted with float() */
    PyObject *step_name; /* "step", the one keyword taken here */
    PyObject *dict;      /* attributes (Experiment sets __doc__, __name__, __qualname__) */
} MetricLogger;

/* Hand the call to the closure, unchanged; a fast-path check that failed with an error (a key
 * whose hash raises, an int past float64) leaves it for the closure to raise or explain. */
static PyObject *
fall_back(MetricLogger *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PyErr_Clear();
    return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
}

static PyObject *
logger_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    MetricLogger *self = (MetricLogger *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *step = Py_None;

    if (kwnames == NULL) {
        if (nargs == 3) {
            step = args[2];
        } else if (nargs != 2) {
            return fall_back(self, args, nargsf, kwnames);
        }
    } else {
        /* only log_metric(key, value, step=...) */
        if (nargs != 2 || PyTuple_GET_SIZE(kwnames) != 1) {
            return fall_back(self, args, nargsf, kwnames);
        }
        PyObject *name = PyTuple_GET_ITEM(kwnames, 0);
        if (name != self->step_name && PyUnicode_Compare(name, self->step_name) != 0) {
            return fall_back(self, args, nargsf, kwnames);
        }
        step = args[2];
    }
    PyObject *key = args[0];
    PyObject *value = args[1];
    if (!PyUnicode_CheckExact(key) || (step != Py_None && !PyLong_CheckExact(step))) {
        return fall_back(self, args, nargsf, kwnames);
    }
    if (PyList_GET_SIZE(self->rows) >= self->limit) {
        return fall_back(self, args, nargsf, kwnames); /* back-pressure is the closure's */
    }
    PyObject *code = PyDict_GetItemWithError(self->codes, key); /* borrowed */
    if (code == NULL) {
        return fall_back(self, args, nargsf, kwnames);
    }
    PyObject *number;
    if (PyFloat_CheckExact(value)) {
        number = Py_NewRef(value);
    } else if (PyLong_CheckExact(value)) {
        double converted = PyLong_AsDouble(value);
        if (converted == -1.0 && PyErr_Occurred()) { /* past float64: the closure says so */
            return fall_back(self, args, nargsf, kwnames);
        }
        number = PyFloat_FromDouble(converted);
        if (number == NULL) {
            return NULL;
        }
    } else if (PySet_Contains(self->numbers, (PyObject *)Py_TYPE(value)) == 1) { /* numpy scalars */
        number = PyNumber_Float(value);
        if (number == NULL) {
            return fall_back(self, args, nargsf, kwnames);
        }
    } else {
        return fall_back(self, args, nargsf, kwnames);
    }
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) { /* what time.time_ns() reads */
        Py_DECREF(number);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *dt = PyLong_FromLongLong((long long)now.tv_sec * 1000000000LL + (long long)now.tv_nsec);
    if (dt == NULL) {
        Py_DECREF(number);
        return NULL;
    }
    PyObject *rows = self->rows;
    Py_ssize_t before = PyList_GET_SIZE(rows);
    int failed = PyList_Append(rows, code) || PyList_Append(rows, number) || PyList_Append(rows, step) ||
                 PyList_Append(rows, dt);
    Py_DECREF(number);
    Py_DECREF(dt);
    if (failed) { /* out of memory: take back what was appended, so no half row stays */
        PyObject *type, *error, *traceback;
        PyErr_Fetch(&type, &error, &traceback);
        PyList_SetSlice(rows, before, PY_SSIZE_T_MAX, NULL);
        PyErr_Restore(type, error, traceback);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
logger_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *rows, *codes, *fallback, *numbers;
    Py_ssize_t limit;
    static char *names[] = {"rows", "codes", "limit", "fallback", "numbers", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!nOO!:MetricLogger", names, &PyList_Type, &rows, &PyDict_Type,
                                     &codes, &limit, &fallback, &PyFrozenSet_Type, &numbers)) {
        return NULL;
    }
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "MetricLogger: fallback must be callable");
        return NULL;
    }
    MetricLogger *self = (MetricLogger *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->step_name = PyUnicode_InternFromString("step");
    if (self->step_name == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->vectorcall = logger_call;
    self->rows = Py_NewRef(rows);
    self->codes = Py_NewRef(codes);
    self->limit = limit;
    self->fallback = Py_NewRef(fallback);
    self->numbers = Py_NewRef(numbers);
    return (PyObject *)self;
}

static int
logger_traverse(MetricLogger *self, visitproc visit, void *arg)
{
    Py_VISIT(self->rows);
    Py_VISIT(self->codes);
    Py_VISIT(self->fallback);
    Py_VISIT(self->numbers);
    Py_VISIT(self->dict);
    return 0;
}

static int
logger_clear(MetricLogger *self)
{
    Py_CLEAR(self->rows);
    Py_CLEAR(self->codes);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->numbers);
    Py_CLEAR(self->step_name);
    Py_CLEAR(self->dict);
    return 0;
}

static void
logger_dealloc(MetricLogger *self)
{
    PyObject_GC_UnTrack(self);
    logger_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
logger_wrapped(MetricLogger *self, void *closure)
{
    return Py_NewRef(self->fallback);
}

/* A descriptor returning itself (as a staticmethod would): that makes it a routine to `inspect`,
 * so help() shows the closure's signature (found through __wrapped__) with its documentation. */
static PyObject *
logger_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    return Py_NewRef(self);
}

static PyGetSetDef logger_getset[] = {
    {"__wrapped__", (getter)logger_wrapped, NULL, "the Python closure that takes every call not taken here", NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL},
};

static PyTypeObject MetricLoggerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ingest._hot_path.MetricLogger",
    .tp_basicsize = sizeof(MetricLogger),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "MetricLogger(rows, codes, limit, fallback, numbers): log_metric's compiled fast path.",
    .tp_new = logger_new,
    .tp_traverse = (traverseproc)logger_traverse,
    .tp_clear = (inquiry)logger_clear,
    .tp_dealloc = (destructor)logger_dealloc,
    .tp_vectorcall_offset = offsetof(MetricLogger, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_getset = logger_getset,
    .tp_dictoffset = offsetof(MetricLogger, dict),
    .tp_descr_get = logger_descr_get,
};

static struct PyModuleDef hot_path_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ingest._hot_path",
    .m_doc = "log_metric's compiled fast path (ingest/hot_path.py falls back to Python without it).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__hot_path(void)
{
    if (PyType_Ready(&MetricLoggerType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&hot_path_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "MetricLogger", (PyObject *)&MetricLoggerType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
