//! A map that ignores its input and answers with a JSON report of what the
//! pthread functions returned when called inside the component: the checks of
//! the single-threaded semantics the builder's pthread stubs promise (mutexes
//! that cannot wait for themselves, condition waits that cannot block
//! forever, timed waits that end after their deadline, real thread-specific
//! data, thread creation that fails as unsupported).

use wasm_graph_sdk::macros::map_operator;

/// `PTHREAD_MUTEX_RECURSIVE` (musl's and wasi-libc's value; the libc crate
/// does not name it for WASI).
#[cfg(target_os = "wasi")]
const MUTEX_RECURSIVE: libc::c_int = 1;

#[cfg(target_os = "wasi")]
fn report() -> String {
    use std::mem::zeroed;
    // SAFETY: every object is zero-initialised (the static initialiser's
    // value), used only in this function and only through the pthread calls.
    unsafe {
        let mut mutex: libc::pthread_mutex_t = zeroed();
        let lock = libc::pthread_mutex_lock(&mut mutex);
        let relock = libc::pthread_mutex_lock(&mut mutex);
        let trylock = libc::pthread_mutex_trylock(&mut mutex);
        let mut cond: libc::pthread_cond_t = zeroed();
        let cond_wait = libc::pthread_cond_wait(&mut cond, &mut mutex);
        let mut now: libc::timespec = zeroed();
        libc::clock_gettime(libc::CLOCK_REALTIME, &mut now);
        let mut deadline = now;
        deadline.tv_nsec += 20_000_000;
        if deadline.tv_nsec >= 1_000_000_000 {
            deadline.tv_sec += 1;
            deadline.tv_nsec -= 1_000_000_000;
        }
        let started = std::time::Instant::now();
        let timedwait = libc::pthread_cond_timedwait(&mut cond, &mut mutex, &deadline);
        let waited_ms = started.elapsed().as_millis();
        let unlock = libc::pthread_mutex_unlock(&mut mutex);
        let unlock_again = libc::pthread_mutex_unlock(&mut mutex);

        let mut attr: libc::pthread_mutexattr_t = zeroed();
        libc::pthread_mutexattr_init(&mut attr);
        libc::pthread_mutexattr_settype(&mut attr, MUTEX_RECURSIVE);
        let mut recursive: libc::pthread_mutex_t = zeroed();
        libc::pthread_mutex_init(&mut recursive, &attr);
        let nested = [
            libc::pthread_mutex_lock(&mut recursive),
            libc::pthread_mutex_lock(&mut recursive),
            libc::pthread_mutex_unlock(&mut recursive),
            libc::pthread_mutex_unlock(&mut recursive),
        ];

        let mut key: libc::pthread_key_t = 0;
        let created = libc::pthread_key_create(&mut key, None);
        let set = libc::pthread_setspecific(key, 0x1234 as *const libc::c_void);
        let key_value = libc::pthread_getspecific(key) as usize;

        let spawn = match std::thread::Builder::new().spawn(|| ()) {
            Ok(_) => "spawned".to_owned(),
            Err(err) => format!("{:?}", err.kind()),
        };
        format!(
            "{{\"lock\":{lock},\"relock\":{relock},\"trylock\":{trylock},\"cond_wait\":{cond_wait},\
             \"timedwait\":{timedwait},\"waited_ms\":{waited_ms},\"unlock\":{unlock},\"unlock_again\":{unlock_again},\
             \"recursive\":{nested:?},\"key\":[{created},{set},{key_value}],\"spawn\":\"{spawn}\"}}"
        )
    }
}

/// Natively there is nothing of the component's to check.
#[cfg(not(target_os = "wasi"))]
fn report() -> String {
    "{}".to_owned()
}

#[map_operator]
fn pthread_report(input: DataModel) -> Result<DataModel, Error> {
    let DataModel::Message(mut message) = input else {
        return Err(Error { message: "expected a message".to_owned() });
    };
    message.payload = BufferOrBytes::Bytes(report().into_bytes());
    Ok(DataModel::Message(message))
}
